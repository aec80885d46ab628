"""Per-character states of a recurrent text model.

``lstm_states`` runs the model once on the encoded text, captures what goes
into its ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` module, and recomputes every
layer's hidden state h_t (and, for an LSTM, cell state c_t) at every step
from that module's own weights. ``nn.LSTM`` returns only the last c, so for
each layer a one-layer copy gives all h_t and the cell update
``c_t = f_t * c_{t-1} + i_t * g_t`` is replayed from gates computed with the
layer's weights: the same numbers as a step-by-step ``nn.LSTMCell`` loop.
The properties of code those cells may track are in ``text_predicates``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, cast

import numpy as np
import torch
from torch import nn

from .guard import hooked, looking_at
from .probe import get_module

__all__ = ["TextStates", "lstm_states", "recurrent_module", "recurrent_layers"]

_RECURRENT = (nn.LSTM, nn.GRU, nn.RNN)


@dataclass(frozen=True)
class TextStates:
    """States of a recurrent model at every character of ``text``.

    ``h[l]`` and ``c[l]`` are ``(T, hidden)`` float tensors for layer ``l``
    (``c`` is ``None`` for a GRU or plain RNN); ``logits`` is ``(T, V)``, the
    model's next-character scores after each character, or ``None`` when the
    model's output is not shaped like one row per character.
    """

    text: str
    kind: str  # "LSTM", "GRU" or "RNN"
    h: List[torch.Tensor]
    c: Optional[List[torch.Tensor]]
    logits: Optional[torch.Tensor]
    layer: str = ""  # the recurrent module's name in the model ("" when the model is one)

    @property
    def layers(self) -> int:
        return len(self.h)

    @property
    def hidden_size(self) -> int:
        return self.h[0].shape[1]

    def values(self, which: str = "auto") -> torch.Tensor:
        """``(T, layers * hidden)``: tanh(c) (``"c"``, the default for an LSTM) or h (``"h"``)."""
        if which == "auto":
            which = "c" if self.c is not None else "h"
        if which == "c":
            if self.c is None:
                raise ValueError(f"a {self.kind} has no cell state c; use which='h'")
            return torch.cat([torch.tanh(c) for c in self.c], dim=1)
        if which == "h":
            return torch.cat(self.h, dim=1)
        raise ValueError(f"which must be 'c', 'h' or 'auto', got {which!r}")

    def cell_name(self, cell: int) -> str:
        layer, unit = divmod(int(cell), self.hidden_size)
        return f"layer {layer} cell {unit}" if self.layers > 1 else f"cell {unit}"


def recurrent_layers(model: nn.Module) -> List[str]:
    """Names of the model's ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` modules (``""``: the model is one)."""
    return [n for n, m in model.named_modules() if isinstance(m, _RECURRENT)]


def recurrent_module(model: nn.Module, name: Optional[str] = None):
    """(name, module) of the model's recurrent layer: the one named, or the only one."""
    found = recurrent_layers(model)
    if name is not None:
        module = model if name == "" else get_module(model, name)
        if not isinstance(module, _RECURRENT):
            raise ValueError(
                f"layer {name!r} is a {type(module).__name__}, not an nn.LSTM, nn.GRU or nn.RNN; "
                f"recurrent layers: {', '.join(repr(n) for n in found) or 'none'}"
            )
        return name, module
    if not found:
        raise ValueError(
            f"{type(model).__name__} has no nn.LSTM, nn.GRU or nn.RNN submodule: "
            "lstm_states needs a recurrent model"
        )
    if len(found) > 1:
        raise ValueError(
            "the model has several recurrent layers ("
            + ", ".join(repr(n) for n in found)
            + "); pass rnn=NAME to pick one"
        )
    return found[0], (model if found[0] == "" else get_module(model, found[0]))


def _one_layer_copy(rnn: nn.RNNBase, layer: int, input_size: int) -> nn.RNNBase:
    """A one-layer, time-major copy of layer ``layer`` of ``rnn`` (the user's module is untouched)."""
    kwargs: Dict[str, Any] = dict(bias=rnn.bias, batch_first=False)
    if isinstance(rnn, nn.LSTM):
        kwargs["proj_size"] = rnn.proj_size
    if isinstance(rnn, nn.RNN):
        kwargs["nonlinearity"] = rnn.nonlinearity
    p = next(rnn.parameters())
    # LSTM, GRU and RNN take (input_size, hidden_size, num_layers); only their base takes a mode first
    make = cast(Callable[..., nn.RNNBase], type(rnn))
    copy = make(input_size, rnn.hidden_size, 1, **kwargs).to(device=p.device, dtype=p.dtype)
    with torch.no_grad():
        for name, param in copy.named_parameters():
            param.copy_(getattr(rnn, name.replace("_l0", f"_l{layer}")))
    return copy.eval()


def _lstm_cells(rnn: nn.LSTM, layer: int, x: torch.Tensor, h: torch.Tensor, h0, c0) -> torch.Tensor:
    """All c_t of one LSTM layer, given its inputs x (T, F) and outputs h (T, H_out)."""
    w = lambda n: getattr(rnn, f"{n}_l{layer}")  # noqa: E731
    h_prev = torch.cat([h0[None], h[:-1]], dim=0)
    gates = x @ w("weight_ih").T + h_prev @ w("weight_hh").T
    if rnn.bias:
        gates = gates + w("bias_ih") + w("bias_hh")
    i, f, g, _o = gates.chunk(4, dim=1)
    forget = torch.sigmoid(f).cpu().numpy()
    written = (torch.sigmoid(i) * torch.tanh(g)).cpu().numpy()
    c = np.empty_like(forget)
    state = c0.cpu().numpy()
    for t in range(len(c)):  # only the elementwise cell update is sequential (numpy: less overhead per step)
        state = forget[t] * state
        state += written[t]
        c[t] = state
    return torch.from_numpy(c)


def _as_steps(x: torch.Tensor, batch_first: bool, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"the recurrent layer's {what} is a {type(x).__name__}; packed sequences are not supported")
    if x.ndim == 2:  # unbatched (T, F)
        return x
    if x.ndim != 3:
        raise ValueError(f"expected the recurrent layer's {what} shaped (T, F) or batched, got {tuple(x.shape)}")
    x = x[0] if batch_first else x[:, 0]
    return x


def _encoded(model: nn.Module, text: str, encode: Optional[Callable]):
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: need at least one character")
    encode = encode or getattr(model, "encode", None)
    if encode is None:
        raise ValueError(
            f"{type(model).__name__} has no encode method; pass encode=callable(text) -> model input"
        )
    x = encode(text)
    if isinstance(x, torch.Tensor) and x.ndim == 1:
        x = x.unsqueeze(0)
    return x


def _logits(out, steps: int) -> Optional[torch.Tensor]:
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.numel() % steps or out.ndim < 2:
        return None
    if out.ndim == 3 and out.shape[0] == 1 and out.shape[1] == steps:
        return out[0].float()
    if out.ndim == 3 and out.shape[1] == 1 and out.shape[0] == steps:
        return out[:, 0].float()
    if out.ndim == 2 and out.shape[0] == steps:
        return out.float()
    return None


def lstm_states(
    model: nn.Module, text: str, encode: Optional[Callable] = None, rnn: Optional[str] = None
) -> TextStates:
    """h_t and c_t of every layer at every character of ``text`` (one forward pass of ``model``).

    ``encode(text)`` (default: ``model.encode``) returns the model's input
    for the whole text; a 1-D tensor gets a batch axis. The recurrent module
    (``rnn`` names it when there are several) must see one sequence of
    ``len(text)`` steps; its initial state is the one the model passes in
    (zeros by default). Works for ``nn.LSTM`` (including ``proj_size``),
    ``nn.GRU`` and ``nn.RNN``; bidirectional layers are refused. Eval mode,
    no gradients; hooks removed afterwards.
    """
    name, module = recurrent_module(model, rnn)
    if module.bidirectional:
        raise ValueError("bidirectional recurrent layers see the future: per-character states are not defined")
    x = _encoded(model, text, encode)
    seen = {}

    def capture(_module, args, kwargs):
        seen["input"] = args[0] if args else kwargs.get("input")
        seen["hx"] = args[1] if len(args) > 1 else kwargs.get("hx")

    def capture_output(_module, _args, output):
        seen["output"] = output[0]

    with looking_at(model) as twin, torch.no_grad():
        rnn_twin = twin if module is model else get_module(twin, name)
        with hooked(twin, {rnn_twin: capture}, pre=True, with_kwargs=True), \
                hooked(twin, {rnn_twin: capture_output}):
            out = twin(x)
    if "input" not in seen:
        raise ValueError(f"the recurrent layer {name!r} did not run in the model's forward pass")
    steps = _as_steps(seen["input"], module.batch_first, "input").detach()
    if len(steps) != len(text):
        raise ValueError(
            f"the recurrent layer saw {len(steps)} steps for a text of {len(text)} characters; "
            "encode must give one step per character"
        )
    is_lstm = isinstance(module, nn.LSTM)
    hx = seen["hx"]
    h0s, c0s = (hx if is_lstm else (hx, None)) if hx is not None else (None, None)
    out_size = module.proj_size if is_lstm and module.proj_size else module.hidden_size
    hs, cs = [], []
    with torch.no_grad():
        layer_in = steps
        for layer in range(module.num_layers):
            h0 = layer_in.new_zeros(out_size) if h0s is None else h0s.reshape(module.num_layers, -1, out_size)[layer, 0]
            initial = h0[None, None]
            if is_lstm:
                c0 = layer_in.new_zeros(module.hidden_size) if c0s is None else c0s.reshape(module.num_layers, -1, module.hidden_size)[layer, 0]
                initial = (initial, c0[None, None])
            if layer == module.num_layers - 1:  # the module's own output is the top layer's h
                h = _as_steps(seen["output"], module.batch_first, "output")
            else:
                h = _one_layer_copy(module, layer, layer_in.shape[1])(layer_in[:, None], initial)[0][:, 0]
            if is_lstm:
                cs.append(_lstm_cells(module, layer, layer_in, h, h0, c0).float().cpu())
            hs.append(h.float().cpu())
            layer_in = h
    logits = _logits(out, len(text))
    return TextStates(text, type(module).__name__, hs, cs if is_lstm else None,
                      None if logits is None else logits.cpu(), name)
