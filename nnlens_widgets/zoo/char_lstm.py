"""A character-level LSTM trained by our own code on Python standard library sources.

The corpus is a fixed list of pure-Python modules that every CPython 3.9+
install has under ``sysconfig.get_paths()["stdlib"]`` (``TRAIN_FILES``), with
a separate held-out list (``HELD_OUT_FILES``) that the model never trains on,
so nothing is downloaded. The vocabulary is fixed (newline, the 95 printable
ASCII characters and one "unknown" token), so the shipped weights work with
any Python version even though the files' contents differ slightly between
versions. Run ``python -m nnlens_widgets.zoo.char_lstm`` to retrain the model
and rewrite the shipped weights; it prints the time taken and the held-out
bits per character.

Shipped model: one LSTM layer of 256 cells over a 64-d embedding (about 360k
parameters), 10 epochs of truncated BPTT (64 streams x 128 characters) over
the ~0.93 M training characters. Training took 507 s (8.5 min) with one
thread on a 2-core machine (``OMP_NUM_THREADS=1 python -m
nnlens_widgets.zoo.char_lstm``; two threads are no faster for a model this
small). Held-out bits per character: 1.826 on Python 3.11's files (the tests
check < 2.0, with room for other versions' files).
"""
from __future__ import annotations

import math
import sysconfig
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.guard import looking_at
from .training import load_weights, retrain, save_weights

__all__ = [
    "VOCAB",
    "UNKNOWN",
    "TRAIN_FILES",
    "HELD_OUT_FILES",
    "WEIGHTS_PATH",
    "CharLSTM",
    "char_lstm",
    "encode_text",
    "decode_indices",
    "stdlib_text",
    "bits_per_char",
    "train_char_lstm",
]

UNKNOWN = "\ufffd"
# Index 0 is the newline, 1..95 printable ASCII (space to "~"), 96 the unknown token.
VOCAB: List[str] = ["\n"] + [chr(c) for c in range(32, 127)] + [UNKNOWN]
_INDEX = {ch: i for i, ch in enumerate(VOCAB[:-1])}
_UNKNOWN_INDEX = len(VOCAB) - 1

TRAIN_FILES: List[str] = [
    "argparse.py", "ast.py", "bisect.py", "calendar.py", "configparser.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fractions.py", "ftplib.py", "functools.py",
    "gettext.py", "graphlib.py", "heapq.py", "locale.py", "pprint.py", "random.py",
    "shlex.py", "shutil.py", "statistics.py", "string.py", "tempfile.py", "textwrap.py",
    "tokenize.py",
]
HELD_OUT_FILES: List[str] = ["fnmatch.py", "netrc.py", "optparse.py", "plistlib.py", "sched.py"]
WEIGHTS_PATH = Path(__file__).parent / "weights" / "char_lstm.pt"


def encode_text(text: str, strict: bool = False) -> torch.Tensor:
    """Character indices into ``VOCAB`` as a 1-D int64 tensor.

    Characters outside the vocabulary (tabs, carriage returns, non-ASCII) map
    to the unknown token, or raise ``ValueError`` naming the first one if
    ``strict``.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    indices = [_INDEX.get(ch, _UNKNOWN_INDEX) for ch in text]
    if strict and _UNKNOWN_INDEX in indices:
        at = indices.index(_UNKNOWN_INDEX)
        raise ValueError(
            f"character {text[at]!r} at position {at} is outside the vocabulary "
            "(newline and printable ASCII); pass strict=False to map it to the unknown token"
        )
    return torch.tensor(indices, dtype=torch.int64)


def decode_indices(indices: Sequence[int]) -> str:
    """The text for a sequence of ``VOCAB`` indices."""
    return "".join(VOCAB[int(i)] for i in indices)


def stdlib_text(files: Sequence[str] = TRAIN_FILES) -> str:
    """The named standard-library files, read as UTF-8 and joined with a blank line."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in files:
        path = root / name
        if not path.is_file():
            raise FileNotFoundError(f"standard library file {name!r} not found under {root}")
        parts.append(path.read_text(encoding="utf-8"))
    return "\n\n".join(parts)


class CharLSTM(nn.Module):
    """Embedding -> one-layer ``nn.LSTM`` (batch first) -> linear next-character logits.

    ``forward(indices)`` takes ``(B, T)`` (or ``(T,)``) int64 indices and
    returns ``(B, T, len(VOCAB))`` logits for the character after each one.
    ``encode``/``vocab`` let viewers turn text into input and logits into
    characters.
    """

    vocab = VOCAB

    def __init__(self, hidden_size: int = 256, embedding_dim: int = 64, num_layers: int = 1):
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, len(VOCAB))

    @staticmethod
    def encode(text: str, strict: bool = False) -> torch.Tensor:
        return encode_text(text, strict=strict)

    def forward(self, indices: torch.Tensor, hx=None) -> torch.Tensor:
        return self.run(indices, hx)[0]

    def run(self, indices: torch.Tensor, hx=None):
        """Logits and the final ``(h, c)``, to carry state across chunks of a long text."""
        if indices.dim() == 1:
            indices = indices.unsqueeze(0)
        out, state = self.lstm(self.embed(indices), hx)
        return self.head(out), state


def bits_per_char(model: CharLSTM, text: str, streams: int = 1, chunk: int = 2048) -> float:
    """Mean bits per character for predicting each character of ``text`` from the ones before it.

    With ``streams=1`` the text runs as one sequence (in chunks, state
    carried across). ``streams=k`` cuts it into k contiguous pieces run side
    by side, each from a zero state as if it were its own file: much faster
    on a CPU, and within ~0.01 bits of the single-stream figure for k << the
    number of lines. Train/eval flags are left as found.
    """
    indices = encode_text(text)
    if len(indices) < 2:
        raise ValueError("bits_per_char needs a text of at least 2 characters")
    if streams < 1:
        raise ValueError(f"streams must be >= 1, got {streams}")
    inputs, targets = indices[:-1], indices[1:]
    length = len(inputs) // streams
    pieces = [(inputs[: length * streams].view(streams, length), targets[: length * streams].view(streams, length))]
    if len(inputs) > length * streams:  # the remainder, as one more stream of its own
        pieces.append((inputs[length * streams :][None], targets[length * streams :][None]))
    total = 0.0
    device = next(model.parameters()).device
    with looking_at(model) as m, torch.no_grad():
        for x, y in pieces:
            state = None
            for start in range(0, x.shape[1], chunk):
                logits, state = m.run(x[:, start : start + chunk].to(device), state)
                total += F.cross_entropy(
                    logits.reshape(-1, len(VOCAB)), y[:, start : start + chunk].reshape(-1).to(device), reduction="sum"
                ).item()
    return total / len(targets) / math.log(2)


def _streams(indices: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut the corpus into ``batch_size`` contiguous streams (rows) of equal length."""
    length = len(indices) // batch_size
    return indices[: length * batch_size].view(batch_size, length)


def train_char_lstm(
    epochs: int = 10,
    seed: int = 0,
    hidden_size: int = 256,
    batch_size: int = 64,
    seq_len: int = 128,
    lr: float = 3e-3,
    on_progress: Optional[Callable[[int, float, float], None]] = None,
    text: Optional[str] = None,
) -> CharLSTM:
    """Train a ``CharLSTM`` on ``stdlib_text(TRAIN_FILES)`` (or ``text``) by truncated BPTT.

    The corpus is cut into ``batch_size`` contiguous streams read ``seq_len``
    characters at a time, the LSTM state carried (detached) from one window to
    the next and reset at each epoch. Adam with a one-cycle learning-rate
    schedule and gradient-norm clipping at 1. The same ``seed`` gives identical
    weights on the same machine and thread count (initialisation draws from a
    seeded copy of the global RNG; the caller's RNG state is restored).
    ``on_progress(epoch, train_bpc, held_out_bpc)`` is called after each epoch.
    Returns the model in eval mode.
    """
    indices = encode_text(stdlib_text() if text is None else text)
    streams = _streams(indices, batch_size)
    windows = (streams.shape[1] - 1) // seq_len
    if windows < 1:
        raise ValueError(f"text too short for batch_size={batch_size} and seq_len={seq_len}")
    held_out = stdlib_text(HELD_OUT_FILES) if on_progress is not None else ""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CharLSTM(hidden_size=hidden_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, epochs=epochs, steps_per_epoch=windows)
    for epoch in range(1, epochs + 1):
        model.train()
        state, total = None, 0.0
        for w in range(windows):
            x = streams[:, w * seq_len : (w + 1) * seq_len]
            y = streams[:, w * seq_len + 1 : (w + 1) * seq_len + 1]
            logits, state = model.run(x, state)
            state = tuple(s.detach() for s in state)
            loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
        if on_progress is not None:
            on_progress(epoch, total / windows / math.log(2), bits_per_char(model, held_out))
    return model.eval()


def char_lstm(pretrained: bool = True) -> CharLSTM:
    """A ``CharLSTM`` in eval mode: the shipped weights, or a random init if not ``pretrained``."""
    return load_weights(CharLSTM(), WEIGHTS_PATH) if pretrained else CharLSTM().eval()


def main() -> None:
    """Retrain with the default settings and overwrite ``WEIGHTS_PATH``."""

    def train(elapsed: Callable[[], float]) -> CharLSTM:
        def report(epoch: int, train_bpc: float, held_bpc: float) -> None:
            print(f"epoch {epoch:2d}  train {train_bpc:.3f} bpc  held-out {held_bpc:.3f} bpc  {elapsed():.0f} s",
                  flush=True)

        return train_char_lstm(on_progress=report)

    retrain(train, lambda model: save_weights(model, WEIGHTS_PATH),
            lambda model: f"held-out bits per character {bits_per_char(model, stdlib_text(HELD_OUT_FILES)):.3f}")


if __name__ == "__main__":
    main()
