"""Command line of ``python -m nnlens_widgets.scan``: options, range checks, ``MOD:FN`` callables."""
from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Sequence

import torch
from torch import nn

from ..core.metric_scores import METRICS
from ..core.relevance.options import COMPOSITES

__all__ = ["ScanError", "as_scan_error", "build_parser", "load_callable", "load_model", "load_data", "model_hash", "parse_units",
           "parse_method_args", "parse_metrics"]


class ScanError(ValueError):
    """A mistake in what the user asked for: reported as one line, exit status 2."""


@contextmanager
def as_scan_error() -> Iterator[None]:
    """A ``ValueError`` or ``KeyError`` raised inside (what ``nl.core`` says of a bad layer, unit, file or
    image) becomes a ``ScanError`` with the same message."""
    try:
        yield
    except KeyError as e:
        raise ScanError(e.args[0] if e.args else str(e)) from None
    except ValueError as e:
        raise ScanError(str(e)) from None


def _checked(convert: Callable[[str], Any], ok: Callable[[Any], bool], name: str, what: str,
             expected: str) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)`` (else "expected ``what``"), then ``ok(value)`` (else "expected ``expected``")."""

    def parse(text: str):
        try:
            v = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {v}")
        return v

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def _int_in(lo: int, hi: int, what: str) -> Callable[[str], int]:
    return _checked(int, lambda v: lo <= v <= hi, what, f"{what} as an integer in {lo}..{hi}", f"{what} in {lo}..{hi}")


_seconds = _checked(float, lambda v: 0 <= v <= 86400, "seconds", "a number of seconds >= 0",
                    "a number of seconds in 0..86400")
_positive_float = _checked(float, lambda v: 0 < v < float("inf"), "positive number", "a number > 0",
                           "a finite number > 0")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="MOD:FN",
                   help="importable callable returning the model, e.g. torchvision.models:resnet18")
    p.add_argument("--data", required=True, metavar="MOD:FN",
                   help="importable callable returning a map-style data set (len() and [i])")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the result, shard files and checkpoints")
    p.add_argument("--batch-size", type=_int_in(1, 65536, "batch size"), default=64)
    p.add_argument("--checkpoint-every", type=_int_in(1, 10**9, "images per checkpoint"), default=5000,
                   metavar="IMAGES", help="write each rank's partial result after about this many images")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoints in --out (same command, same number of processes)")
    p.add_argument("--limit", type=_int_in(1, 10**12, "image limit"), default=None, metavar="N",
                   help="scan only the first N images of the data set")
    p.add_argument("--workers", type=_int_in(0, 256, "data loader workers"), default=None,
                   help="DataLoader worker processes per rank (default: 0 on CPU, up to 8 per GPU)")
    p.add_argument("--device", default="auto",
                   help="auto (cuda:LOCAL_RANK when CUDA is available, else cpu), cpu or cuda")
    p.add_argument("--progress-every", type=_seconds, default=30.0, metavar="SECONDS",
                   help="seconds between progress lines (one per rank, on stderr)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nnlens_widgets.scan",
        description="Data set scans, on one process or sharded under torchrun (torch.distributed).")
    jobs = parser.add_subparsers(dest="job", required=True, metavar="JOB")

    top = jobs.add_parser("top-examples", help="the k most and least activating examples of every unit of a layer")
    _common(top)
    top.add_argument("--layer", default=None, help="module name, as in model.named_modules() (required without --sae)")
    top.add_argument("--units", nargs="+", default=None, metavar="U",
                     help="channels to keep (numbers or ranges like 0-63; default: all)")
    top.add_argument("--k", type=_int_in(1, 100000, "k (examples per unit)"), default=9)
    top.add_argument("--by", choices=("activation", "relevance"), default="activation",
                     help="rank images by the unit's peak activation, or by its relevance for --target (RelMax)")
    top.add_argument("--target", type=_int_in(0, 10**9, "target class"), default=None, metavar="CLASS",
                     help="with --by relevance: the class whose relevance ranks the images (default: each "
                          "image's predicted class)")
    top.add_argument("--composite", choices=COMPOSITES, default=COMPOSITES[0],
                     help="with --by relevance: the LRP composite")
    top.add_argument("--sae", default=None, metavar="FILE",
                     help="a sparse autoencoder (SparseAutoencoder.save): scan every feature of it instead of "
                          "the layer's channels; writes feature_facts.pt for nl.FeatureBrowser")

    met = jobs.add_parser("metrics", help="deletion / insertion scores of an attribution method, per image")
    _common(met)
    met.add_argument("--method", default="integrated_gradients", help="an attribution method from core.METHODS")
    met.add_argument("--method-arg", action="append", default=[], metavar="NAME=VALUE",
                     help="keyword argument for the method (repeatable), e.g. steps=32 or layer=conv3")
    met.add_argument("--metric", action="append", default=None, metavar="NAME",
                     help="deletion (default) or insertion; repeat or separate by commas for both")
    met.add_argument("--target", choices=("predicted", "label"), default="predicted",
                     help="class explained: the model's top class or the item's label")
    met.add_argument("--steps", type=_int_in(1, 10000, "curve steps"), default=32)
    met.add_argument("--baseline", default="zero", help="deletion baseline: zero, blur, white, uniform or a number")
    met.add_argument("--blur-sigma", type=_positive_float, default=5.0, help="insertion's blur (pixels)")
    return parser


def load_callable(spec: str, option: str) -> Callable:
    """``package.module:function`` (the function may be dotted, ``module:Class.method``) -> the callable."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ScanError(f"expected {option} as MODULE:FUNCTION (e.g. torchvision.models:resnet18), got {spec!r}")
    module_name, attr = spec.split(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ScanError(f"cannot import module {module_name!r} for {option}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n, None)))
            raise ScanError(f"{module_name!r} has no {attr!r} for {option}; callables there: "
                            + (", ".join(names[:20]) or "none"))
        obj = getattr(obj, part)
    if not callable(obj):
        raise ScanError(f"expected {option} {spec!r} to be callable, got a {type(obj).__name__}")
    return obj


def _call(spec: str, option: str, fn: Callable[[], Any]):
    """``fn()``; whatever it raises becomes one line naming the option and the callable."""
    try:
        return fn()
    except ScanError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's factory: any failure is reported, not traced back
        raise ScanError(f"{option} {spec} raised {type(e).__name__}: {e}") from None


def load_model(spec: str) -> nn.Module:
    model = _call(spec, "--model", load_callable(spec, "--model"))
    if not isinstance(model, nn.Module):
        raise ScanError(f"expected --model {spec} to return a torch.nn.Module, got {type(model).__name__}")
    return model


def load_data(spec: str):
    data = _call(spec, "--data", load_callable(spec, "--data"))
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise ScanError(f"expected --data {spec} to return a map-style data set (with len() and [index]), "
                        f"got {type(data).__name__}")
    if _call(spec, "--data", lambda: len(data)) == 0:
        raise ScanError(f"--data {spec} returned an empty data set")
    return data


def model_hash(model: nn.Module) -> str:
    """SHA-256 of the model's parameters and buffers (names, dtypes, shapes and values): a
    checkpoint made with other weights does not belong to this run."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        if not isinstance(t, torch.Tensor):
            continue
        data = t.detach().cpu().contiguous()
        h.update(f"{name}:{data.dtype}:{tuple(data.shape)};".encode())
        h.update(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return h.hexdigest()


def parse_units(tokens: Sequence[str] | None) -> List[int] | None:
    """``["0-3", "7,9"]`` -> ``[0, 1, 2, 3, 7, 9]`` (kept in the given order, duplicates refused)."""
    if tokens is None:
        return None
    units: List[int] = []
    for token in (t for item in tokens for t in item.split(",") if t):
        try:
            if "-" in token[1:]:
                lo, hi = (int(v) for v in token.split("-", 1))
                if lo > hi:
                    raise ValueError
                units.extend(range(lo, hi + 1))
            else:
                units.append(int(token))
        except ValueError:
            raise ScanError(f"expected --units as channel numbers or ranges like 0-63, got {token!r}") from None
    if any(u < 0 for u in units):
        raise ScanError(f"expected channel numbers >= 0 in --units, got {[u for u in units if u < 0]}")
    if len(set(units)) != len(units):
        raise ScanError("expected each channel once in --units")
    if not units:
        raise ScanError("expected at least one channel in --units")
    return units


def parse_method_args(items: Sequence[str]) -> Dict[str, Any]:
    """``["steps=32", "layer=conv3"]`` -> ``{"steps": 32, "layer": "conv3"}`` (Python literals, else text)."""
    out: Dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier():
            raise ScanError(f"expected --method-arg as NAME=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise ScanError(f"expected --method-arg {name} to be a number, a word or True/False/None, got {text!r}")
        out[name] = value
    return out


def parse_metrics(items: Sequence[str] | None) -> List[str]:
    """``["deletion,insertion"]`` or ``["deletion", "insertion"]`` -> the names (deletion by default)."""
    names = [m for item in (items or ["deletion"]) for m in item.split(",") if m]
    bad = [m for m in names if m not in METRICS]
    if bad or not names or len(set(names)) != len(names):
        raise ScanError(f"expected --metric from {', '.join(METRICS)} (each once), got {names}")
    return names
