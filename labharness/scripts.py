"""JavaScript run in the page, kept in ``labharness/js/*.js`` and read once at import.

JavaScript in its own files can be read, linted and edited as JavaScript
rather than as Python strings full of doubled braces.  Each file holds one
function expression (Playwright calls it with the ``evaluate`` argument).
A snippet that needs shared helpers names them in ``uses``: each helper file
``<name>.js`` is bound to a constant called ``<name>`` in a scope around the
snippet, so snippets and helpers can call one another and each file stays
plain JavaScript.  Helpers are named in camelCase (they are JavaScript
identifiers), scripts called from Python in snake_case.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

JS_DIR = Path(__file__).resolve().parent / "js"


@lru_cache(maxsize=None)
def _source(name: str) -> str:
    """The file's function expression, without its leading comment lines (they document the file)."""
    path = JS_DIR / f"{name}.js"
    lines = path.read_text().strip().splitlines()
    while lines and lines[0].lstrip().startswith("//"):
        lines.pop(0)
    text = "\n".join(lines).strip().rstrip(";")
    if not text:
        raise ValueError(f"no function expression in {path}")
    return text


def script(name: str, uses: Sequence[str] = ()) -> str:
    """The function expression in ``js/<name>.js``, with helper files bound to their names.

    ``script("cell_report", uses=["findPanel"])`` gives
    ``(() => { const findPanel = (<findPanel.js>); return (<cell_report.js>); })()``:
    an expression whose value is the snippet's function, closed over the helpers.
    """
    body = _source(name)
    if not uses:
        return body
    # newlines before each closing bracket: a file may end in a line comment
    helpers = "".join(f"const {helper} = ({_source(helper)}\n);\n" for helper in uses)
    return f"(() => {{\n{helpers}return ({body}\n);\n}})()"
