"""Talking to a notebook's kernel from Python, as a second client of the kernel the page uses.

Tests read and set widget state directly in the kernel (``kernel_eval``,
``kernel_exec``) to check that what the browser shows matches what Python
holds, and to drive widgets without going through the mouse.
"""
from __future__ import annotations

import ast
import os
import re
from typing import Any, Mapping

from .waiting import wait_until

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class KernelError(RuntimeError):
    """Code or an expression sent with :func:`kernel_exec`/:func:`kernel_eval` failed."""


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


def connect_kernel(connection_file: str | os.PathLike, timeout: float = 60) -> Any:
    """A started ``BlockingKernelClient`` on the kernel described by ``connection_file``.

    Call ``client.stop_channels()`` when done.
    """
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_file(str(connection_file))
    client.start_channels()
    try:
        client.wait_for_ready(timeout=timeout)
    except BaseException:
        client.stop_channels()
        raise
    return client


def _raise_kernel_error(content: Mapping[str, Any], what: str) -> None:
    tb = "\n".join(strip_ansi(line) for line in content.get("traceback") or [])
    raise KernelError(f"{what} failed: {content.get('ename')}: {content.get('evalue')}\n{tb}")


def kernel_exec(client: Any, code: str, timeout: float = 30) -> dict:
    """Execute statements in the kernel; raise :class:`KernelError` on error.

    ``silent`` keeps it out of the notebook's history and execution counts.
    Returns the execute reply content.
    """
    reply = client.execute(code, silent=True, store_history=False, reply=True, timeout=timeout)
    content = reply["content"]
    if content["status"] != "ok":
        _raise_kernel_error(content, f"kernel_exec({code!r})")
    return content


def kernel_eval(client: Any, expr: str, timeout: float = 30) -> Any:
    """Evaluate ``expr`` in the kernel and return its value as a Python literal.

    The kernel evaluates ``repr(expr)`` (builtin repr never truncates, unlike
    IPython's pretty printer), so values must be literals: numbers, strings,
    lists, dicts, ... (use ``.tolist()`` / ``float()`` for numpy/torch values).
    """
    reply = client.execute(
        "", silent=True, store_history=False, user_expressions={"v": f"repr(({expr}))"},
        reply=True, timeout=timeout,
    )
    content = reply["content"]
    if content["status"] != "ok":
        _raise_kernel_error(content, f"kernel_eval({expr!r})")
    result = content["user_expressions"]["v"]
    if result.get("status") != "ok":
        _raise_kernel_error(result, f"kernel_eval({expr!r})")
    text = ast.literal_eval(result["data"]["text/plain"])  # the repr string itself
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise KernelError(f"kernel_eval({expr!r}): repr is not a Python literal: {text[:500]}") from exc


def wait_for_kernel_value(client: Any, expr: str, expected: Any, timeout: float = 10) -> Any:
    """Poll ``kernel_eval(expr)`` until it equals ``expected``; return it.

    For state that arrives asynchronously (a browser event travelling over a
    widget comm to the kernel).
    """
    last: list = [None]

    def matches() -> bool:
        last[0] = kernel_eval(client, expr)
        return last[0] == expected

    wait_until(matches, timeout, lambda: f"{expr} == {last[0]!r}, expected {expected!r}", interval=0.05)
    return last[0]
