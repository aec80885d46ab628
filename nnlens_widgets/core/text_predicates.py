"""Per-character properties of Python source, and the recurrent cells that track them.

``code_predicates`` labels every character of Python source from Python's own
``tokenize`` module (inside a string, inside a comment, bracket depth,
indentation depth, position in the line); ``cell_correlations`` and
``predicate_neurons`` rank cells by their Pearson correlation with such
labels over a text (Karpathy, Johnson & Fei-Fei 2015 found cells for each).
"""
from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .text_neurons import TextStates

__all__ = [
    "code_predicates",
    "BUILTIN_PREDICATES",
    "CellMatch",
    "cell_correlations",
    "predicate_neurons",
    "PredicateSpec",
]

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
        failed_line: Optional[int]  # 1-based, None when the error does not say
        if isinstance(e, SyntaxError):
            failed_line = e.lineno
        else:
            failed_line = e.args[1][0] if len(e.args) > 1 and isinstance(e.args[1], tuple) else None
        known_until = starts[max(0, min(failed_line - 1, len(starts) - 1))] if failed_line else 0
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
    namer: Callable[[int], str]
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
