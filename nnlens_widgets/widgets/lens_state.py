"""A Lens's view as a plain record: what it shows, of which model and which input.

``state`` records the choices (layer, channel, target, method and its
parameters, seeds) with fingerprints of the model's weights and of the input,
so a saved record can be reopened on the same model and input (and refuses a
different one, naming what differs) and be embedded in an exported page.
"""
from __future__ import annotations

import hashlib
import html
import numbers
from typing import Any, Dict, Mapping, Tuple

import torch

from .export import script_json

__all__ = ["weights_hash", "input_hash", "versions", "check_state", "state_script", "STATE_VERSION"]

STATE_VERSION = 1
REQUIRED = ("version", "layer", "channel", "target", "method", "method_params", "vis_seed",
            "weights_hash", "input_hash")
_WHOLE, _TEXT = ((numbers.Integral,), "a whole number"), ((str,), "a string")
# field -> (the types it may hold, what that is in words); bool is no whole number here
FIELD_TYPES: Dict[str, Tuple[tuple, str]] = {
    "version": _WHOLE, "layer": _TEXT, "channel": _WHOLE, "target": _WHOLE, "method": _TEXT,
    "method_params": ((dict,), "a dict {method: {parameter: value}}"), "vis_seed": _WHOLE,
    "weights_hash": _TEXT, "input_hash": _TEXT, "vis_steps": _WHOLE, "trust_steps": _WHOLE,
    "top_k": _WHOLE, "examples": _WHOLE, "occlusion": ((bool,), "true or false"), "target_name": _TEXT,
}


def _update(h, t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def weights_hash(model) -> str:
    """SHA-256 of every parameter and buffer (names, dtypes, shapes and bits), in order."""
    h = hashlib.sha256()
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        h.update(name.encode())
        _update(h, t)
    return h.hexdigest()


def input_hash(xb: torch.Tensor) -> str:
    """SHA-256 of the input batch as the model sees it (dtype, shape and bits)."""
    h = hashlib.sha256()
    _update(h, xb)
    return h.hexdigest()


def versions() -> Dict[str, str]:
    import nnlens_widgets

    return {"torch": torch.__version__, "nnlens_widgets": getattr(nnlens_widgets, "__version__", "unknown")}


def check_state(state: Mapping[str, Any], weights: str, inputs: str) -> None:
    """A ValueError naming each field missing, and each fingerprint that differs."""
    if not isinstance(state, Mapping):
        raise ValueError(f"expected a state as a dict (from Lens.state()), got {type(state).__name__}")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise ValueError(f"the state lacks {', '.join(missing)}; expected a dict from Lens.state()")
    for key, (types, words) in FIELD_TYPES.items():
        value = state.get(key, ...)
        if value is not ... and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            raise ValueError(f"expected the state's {key!r} as {words}, got {value!r}")
    if any(not isinstance(v, dict) for v in state["method_params"].values()):
        raise ValueError(f"expected the state's 'method_params' as a dict {{method: {{parameter: value}}}}, "
                         f"got {state['method_params']!r}")
    if state["version"] != STATE_VERSION:
        raise ValueError(f"expected a state of version {STATE_VERSION}, got {state['version']!r}")
    differ = []
    if state["weights_hash"] != weights:
        differ.append(f"the model's weights (saved {state['weights_hash'][:12]}, given {weights[:12]})")
    if state["input_hash"] != inputs:
        differ.append(f"the input (saved {state['input_hash'][:12]}, given {inputs[:12]})")
    if differ:
        raise ValueError("the state was saved for a different model or input: " + "; ".join(differ) + " differ")


def state_script(state: Mapping[str, Any]) -> str:
    """The record as a JSON script element a page carries (no ``<``, ``>`` or ``&`` left raw in it)."""
    return f"<script type='application/json' class='nnl-state'>{script_json(dict(state))}</script>" \
           f"<p style='font-size:11px'>{html.escape(_summary(state))}</p>"


def _summary(state: Mapping[str, Any]) -> str:
    return (f"state: layer {state['layer']}, channel {state['channel']}, target {state['target']}, "
            f"method {state['method']}, weights {state['weights_hash'][:12]}, input {state['input_hash'][:12]}")
