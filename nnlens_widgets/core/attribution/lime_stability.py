"""How stable LIME's top superpixels are: a bootstrap over the samples drawn.

LIME's ranking varies between runs with the same number of samples. After
each round of samples we refit the weighted ridge regression on bootstrap
resamples of all samples so far and count how often the same top-k set of
superpixels comes out: that fraction is the stability, and sampling can stop
once it reaches the confidence asked for.

The bootstrap is a Poisson bootstrap (each sample appears ``Poisson(1)``
times in each resample, drawn once when the sample arrives), so every
resample's sufficient statistics grow with the new rows only and a round
costs time in proportion to its own size, not to all samples so far.

The sums and solves run in torch (float64) rather than numpy: numpy's
OpenBLAS threads keep spinning after each product and took the cores from
the model's next forward pass (1000 samples on the shapes model: 1.7 s with
the bootstrap against 0.9 s without it); torch shares the forward's threads.

To stop on the largest top set that more samples could still make stable,
``samples_needed`` projects, for each set size, how many samples it would
take (see there).
"""
from __future__ import annotations

from statistics import NormalDist
from typing import Optional

import numpy as np
import torch

__all__ = ["BootstrapStability", "kernel_weights", "top_set"]


def kernel_weights(data: np.ndarray, kernel_width: float) -> np.ndarray:
    """LIME's sample weights: an exponential kernel on the cosine distance to all-on."""
    on = data.sum(1)
    d = 1.0 - on / (np.sqrt(np.maximum(on, 1e-300)) * np.sqrt(data.shape[1]))
    d[on == 0] = 1.0
    return np.sqrt(np.exp(-(d ** 2) / kernel_width ** 2))


def top_set(coefficients: np.ndarray, k: int) -> np.ndarray:
    """Boolean membership of the ``k`` largest coefficients, per row (ties: lower index first)."""
    coefficients = np.atleast_2d(coefficients)
    order = np.argsort(-coefficients, axis=1, kind="stable")[:, :k]
    member = np.zeros(coefficients.shape, dtype=bool)
    np.put_along_axis(member, order, True, axis=1)
    return member


class BootstrapStability:
    """Weighted ridge fits (unpenalised intercept) on ``resamples`` Poisson bootstrap resamples."""

    def __init__(self, features: int, alpha: float, resamples: int = 200, seed: int = 0):
        # each resample keeps a features x features matrix: fewer resamples for many superpixels
        n, b = features, int(np.clip(4_000_000 // max(features, 1) ** 2, 20, resamples))
        self.alpha, self.resamples = float(alpha), b
        self._rng = np.random.default_rng(seed)  # its own stream: LIME's samples stay lime's
        # row 0 is the fit on all samples (every count 1), rows 1.. the resamples
        f64 = torch.float64
        self._xx = torch.zeros(b + 1, n * n, dtype=f64)  # sum of c w x x^T
        self._x = torch.zeros(b + 1, n, dtype=f64)  # sum of c w x
        self._xy = torch.zeros(b + 1, n, dtype=f64)  # sum of c w x y
        self._w = torch.zeros(b + 1, dtype=f64)  # sum of c w
        self._y = torch.zeros(b + 1, dtype=f64)  # sum of c w y
        self.samples = 0

    def add(self, data: np.ndarray, y: np.ndarray, weights: np.ndarray) -> None:
        """Take in new samples: on/off rows ``data``, model outputs ``y``, kernel ``weights``."""
        x = torch.from_numpy(np.asarray(data, dtype=np.float64))
        y_t = torch.from_numpy(np.asarray(y, dtype=np.float64))
        # drawn sample by sample, so rounds of any size give the same counts as one draw
        counts = self._rng.poisson(1.0, (len(x), self.resamples)).T
        cw = torch.from_numpy(np.concatenate([np.ones((1, len(x))), counts]) * weights[None, :])
        rows = max(1, 2_000_000 // x.shape[1] ** 2)  # outer products in blocks of bounded memory
        with torch.inference_mode():
            for i in range(0, len(x), rows):
                xb = x[i:i + rows]
                self._xx += cw[:, i:i + rows] @ (xb[:, :, None] * xb[:, None, :]).reshape(len(xb), -1)
            self._x += cw @ x
            self._xy += cw @ (x * y_t[:, None])
            self._w += cw.sum(1)
            self._y += cw @ y_t
        self.samples += len(x)

    def coefficients(self) -> np.ndarray:
        """``(1 + resamples, features)`` ridge coefficients: the fit on all samples, then one row per resample."""
        n = self._x.shape[1]
        with torch.inference_mode():
            w = self._w.clamp_min(1e-300)[:, None]
            gram = self._xx.reshape(-1, n, n) - self._x[:, :, None] * self._x[:, None, :] / w[:, :, None]
            rhs = self._xy - self._x * (self._y[:, None] / w)
            eye = torch.eye(n, dtype=torch.float64)
            return torch.linalg.solve(gram + self.alpha * eye, rhs[:, :, None])[:, :, 0].numpy()

    def stability(self, k: int) -> float:
        """Fraction of resamples whose top-``k`` set equals that of the fit on all samples."""
        return self.stabilities(k)[-1]

    def stabilities(self, k: int, coef: Optional[np.ndarray] = None) -> np.ndarray:
        """``stability(j)`` for j = 1..k, from one set of fits (``coefficients()`` unless given)."""
        coef = self.coefficients() if coef is None else coef
        k = min(k, coef.shape[1])
        order = np.argsort(-coef, axis=1, kind="stable")[:, :k]
        out = np.empty(k)
        for j in range(1, k + 1):
            member = np.zeros(coef.shape, dtype=bool)
            np.put_along_axis(member, order[:, :j], True, axis=1)
            out[j - 1] = (member[1:] == member[0]).all(1).mean()
        return out

    def samples_needed(self, k: int, confidence: float, coef: Optional[np.ndarray] = None) -> np.ndarray:
        """For j = 1..k, about how many samples in all would make the top-j set stable at ``confidence``.

        The top-j set of the fit on all samples comes out of a resample when
        its margin there (its smallest coefficient minus the largest one
        outside it) is positive. Taking the margin as normal, centred on the
        fit's own margin, with the resamples' spread shrinking as
        1/sqrt(samples) (each coefficient is a weighted mean over the
        samples), the chance of a positive margin reaches ``confidence`` after
        ``samples * (z * spread / margin)**2`` samples, z the normal quantile
        of ``confidence``. Ranks tied within the noise give a margin that is
        small against its spread, so a count far beyond any budget; a margin
        of 0 (exact ties) is never reached: ``inf``.
        """
        coef = self.coefficients() if coef is None else coef
        k = min(k, coef.shape[1] - 1)  # the set of all superpixels has no margin
        z = NormalDist().inv_cdf(confidence)
        order = np.argsort(-coef[0], kind="stable")
        out = np.full(k, np.inf)
        for j in range(1, k + 1):
            margin = coef[:, order[:j]].min(1) - coef[:, order[j:]].max(1)  # row 0: the fit on all samples
            if margin[0] > 0:
                out[j - 1] = self.samples * (z * float(margin[1:].std()) / float(margin[0])) ** 2
        return out
