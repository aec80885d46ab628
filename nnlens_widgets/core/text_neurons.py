"""Per-character states of a recurrent text model, and cells that track properties of code.

``lstm_states`` runs the model once on the encoded text, captures what goes
into its ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` module, and recomputes every
layer's hidden state h_t (and, for an LSTM, cell state c_t) at every step
from that module's own weights. ``nn.LSTM`` returns only the last c, so for
each layer a one-layer copy gives all h_t and the cell update
``c_t = f_t * c_{t-1} + i_t * g_t`` is replayed from gates computed with the
layer's weights: the same numbers as a step-by-step ``nn.LSTMCell`` loop.

``code_predicates`` labels every character of Python source from Python's own
``tokenize`` module (inside a string, inside a comment, bracket depth,
indentation depth, position in the line) and ``predicate_neurons`` ranks
cells by their correlation with such labels.
"""
from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .guard import hooked, looking_at
from .probe import get_module

__all__ = [
    "TextStates",
    "CellMatch",
    "lstm_states",
    "recurrent_module",
    "code_predicates",
    "BUILTIN_PREDICATES",
    "cell_correlations",
    "predicate_neurons",
]

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


def recurrent_module(model: nn.Module, name: Optional[str] = None):
    """(name, module) of the model's recurrent layer: the one named, or the only one."""
    if name is not None:
        module = get_module(model, name)
        if not isinstance(module, _RECURRENT):
            raise ValueError(f"layer {name!r} is a {type(module).__name__}, not an nn.LSTM, nn.GRU or nn.RNN")
        return name, module
    if isinstance(model, _RECURRENT):
        return "", model
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, _RECURRENT)]
    if not found:
        raise ValueError(
            f"{type(model).__name__} has no nn.LSTM, nn.GRU or nn.RNN submodule: "
            "lstm_states needs a recurrent model"
        )
    if len(found) > 1:
        raise ValueError(
            "the model has several recurrent layers ("
            + ", ".join(repr(n) for n, _ in found)
            + "); pass rnn=NAME to pick one"
        )
    return found[0]


def _one_layer_copy(rnn: nn.RNNBase, layer: int, input_size: int) -> nn.RNNBase:
    """A one-layer, time-major copy of layer ``layer`` of ``rnn`` (the user's module is untouched)."""
    kwargs = dict(bias=rnn.bias, batch_first=False)
    if isinstance(rnn, nn.LSTM):
        kwargs["proj_size"] = rnn.proj_size
    if isinstance(rnn, nn.RNN):
        kwargs["nonlinearity"] = rnn.nonlinearity
    p = next(rnn.parameters())
    copy = type(rnn)(input_size, rnn.hidden_size, 1, **kwargs).to(device=p.device, dtype=p.dtype)
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
    return TextStates(text, type(module).__name__, hs, cs if is_lstm else None, None if logits is None else logits.cpu())


# ---------------------------------------------------------------- predicates from Python's tokenizer

BUILTIN_PREDICATES = ("string", "comment", "bracket_depth", "indent_depth", "line_position")
_OPEN, _CLOSE = set("([{"), set(")]}")
_NOT_CODE = (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)


def _line_starts(text: str) -> List[int]:
    starts, pos = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(pos)
        pos += len(line)
    starts.append(pos)
    return starts


def code_predicates(text: str) -> Dict[str, np.ndarray]:
    """Per-character labels of Python source, from ``tokenize``.

    - ``string``: 1 on the characters of a string literal (quotes and prefix
      included; f-strings whole), else 0.
    - ``comment``: 1 on a ``#`` comment, else 0.
    - ``bracket_depth``: how many brackets enclose the character (a bracket
      counts as inside its own pair), brackets in strings/comments ignored.
    - ``indent_depth``: the tokenizer's indentation level of the character's
      line (INDENT/DEDENT count; continuation and blank lines keep the level
      of the line before).
    - ``line_position``: the character's column (0 at the line start).

    Text the tokenizer cannot read to the end (cut in the middle of a string,
    inconsistent dedent) is labelled up to that point; ``string``,
    ``comment``, ``bracket_depth`` and ``indent_depth`` are NaN after it.
    """
    n = len(text)
    starts = _line_starts(text)
    offset = lambda rc: min(starts[min(rc[0] - 1, len(starts) - 1)] + rc[1], n)  # noqa: E731
    string, comment = np.zeros(n), np.zeros(n)
    depth_change = np.zeros(n + 1)
    line_level = np.full(len(starts), np.nan)
    level, fstring_from, known_until = 0, [], n
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = tok.type
            a, b = offset(tok.start), offset(tok.end)
            if kind == tokenize.INDENT:
                level += 1
            elif kind == tokenize.DEDENT:
                level -= 1
            elif kind == tokenize.STRING:
                string[a:b] = 1
            elif kind == tokenize.COMMENT:
                comment[a:b] = 1
            elif getattr(tokenize, "FSTRING_START", None) == kind:
                fstring_from.append(a)
            elif getattr(tokenize, "FSTRING_END", None) == kind and fstring_from:
                string[fstring_from.pop() : b] = 1
            elif kind == tokenize.OP and tok.string in _OPEN and not fstring_from:
                depth_change[a] += 1  # (brackets inside f-strings belong to the string, as before 3.12)
            elif kind == tokenize.OP and tok.string in _CLOSE and not fstring_from:
                depth_change[b] -= 1
            row = tok.start[0] - 1
            if kind not in _NOT_CODE and np.isnan(line_level[row]):
                line_level[row] = level
            if kind == tokenize.ENDMARKER:
                break
    except (tokenize.TokenError, SyntaxError) as e:
        if isinstance(e, SyntaxError):
            row = e.lineno
        else:
            row = e.args[1][0] if len(e.args) > 1 and isinstance(e.args[1], tuple) else None
        known_until = starts[max(0, min(row - 1, len(starts) - 1))] if row else 0
        for lst in (string, comment):
            lst[known_until:] = np.nan
    indent = np.zeros(n)
    following = 0.0  # blank and comment-only lines take the level of the next code line
    for row in reversed(range(len(starts) - 1)):
        if not np.isnan(line_level[row]):
            following = line_level[row]
        indent[starts[row] : starts[row + 1]] = following
    depth = np.cumsum(depth_change)[:n]
    depth[known_until:] = np.nan
    indent[known_until:] = np.nan
    column = np.zeros(n)
    for row in range(len(starts) - 1):
        column[starts[row] : starts[row + 1]] = np.arange(starts[row + 1] - starts[row])
    return {
        "string": string,
        "comment": comment,
        "bracket_depth": depth,
        "indent_depth": indent,
        "line_position": column,
    }


# ---------------------------------------------------------------- ranking cells by predicate


@dataclass(frozen=True)
class CellMatch:
    """One cell's Pearson correlation with one predicate over the characters of a text."""

    predicate: str
    cell: int  # column of ``TextStates.values()``: layer * hidden + unit
    r: float
    name: str


def cell_correlations(values, labels) -> np.ndarray:
    """Pearson r of every column of ``values`` (T, cells) with ``labels`` (T,); NaN labels skipped.

    Cells or labels that do not vary get r = 0.
    """
    v = np.asarray(values, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    keep = ~np.isnan(y)
    v, y = v[keep], y[keep]
    if len(y) < 2:
        return np.zeros(v.shape[1])
    v = v - v.mean(0)
    y = y - y.mean()
    denom = np.sqrt((v * v).sum(0) * (y * y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (v * y[:, None]).sum(0) / denom
    return np.where(denom > 0, r, 0.0)


PredicateSpec = Union[None, Sequence[Union[str, Callable]], Mapping[str, Union[str, Callable]]]


def _predicate_labels(text: str, predicates: PredicateSpec) -> Dict[str, np.ndarray]:
    if predicates is None:
        predicates = list(BUILTIN_PREDICATES)
    items = list(predicates.items()) if isinstance(predicates, Mapping) else [
        (p if isinstance(p, str) else getattr(p, "__name__", f"predicate {i}"), p) for i, p in enumerate(predicates)
    ]
    builtin = None
    labels = {}
    for name, spec in items:
        if isinstance(spec, str):
            if spec not in BUILTIN_PREDICATES:
                raise KeyError(f"unknown predicate {spec!r}; built-in predicates: {', '.join(BUILTIN_PREDICATES)}")
            builtin = builtin or code_predicates(text)
            labels[name] = builtin[spec]
        elif callable(spec):
            values = np.asarray(spec(text), dtype=np.float64).reshape(-1)
            if len(values) != len(text):
                raise ValueError(
                    f"predicate {name!r} returned {len(values)} values for a text of {len(text)} "
                    "characters; expected one value per character"
                )
            labels[name] = values
        else:
            raise ValueError(f"predicate {name!r} must be a built-in name or a callable(text), got {type(spec).__name__}")
    return labels


def predicate_neurons(
    states: Union[TextStates, torch.Tensor, np.ndarray],
    text: str,
    predicates: PredicateSpec = None,
    top: int = 5,
    which: str = "auto",
) -> Dict[str, List[CellMatch]]:
    """For each predicate, the ``top`` cells with the largest |Pearson r| over the text's characters.

    ``states`` is a ``TextStates`` (tanh(c) of an LSTM by default, h with
    ``which="h"``) or a ``(T, cells)`` array. ``predicates`` is ``None`` (all
    of ``BUILTIN_PREDICATES``), a list of built-in names and/or callables
    ``f(text) -> one number per character`` (NaN: ignore that character), or
    a mapping name -> either.
    """
    if isinstance(states, TextStates):
        if states.text != text:
            raise ValueError("states were computed for a different text")
        values, namer = states.values(which).numpy(), states.cell_name
    else:
        values, namer = np.asarray(states, dtype=np.float64), lambda c: f"cell {c}"
    if values.ndim != 2 or len(values) != len(text):
        raise ValueError(f"expected states shaped ({len(text)}, cells), got {values.shape}")
    if not text:
        raise ValueError("text is empty: need at least one character")
    out = {}
    for name, labels in _predicate_labels(text, predicates).items():
        r = cell_correlations(values, labels)
        order = np.argsort(-np.abs(r), kind="stable")[:top]
        out[name] = [CellMatch(name, int(c), float(r[c]), namer(int(c))) for c in order]
    return out
