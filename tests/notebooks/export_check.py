"""An nbconvert HTML export of an executed notebook shows a picture for every output holding a widget.

A reader of an exported notebook (nbconvert HTML, GitHub's or nbviewer's view) has no widget
JavaScript and, as JupyterLab saves notebooks by default, no widget state: each widget output is
shown by its ``image/png``, or by its ``text/plain`` (``VBox(children=(...``) when it has none.

Each notebook is run once per test session, headless here or in JupyterLab by
``tests/browser/test_legibility.py``; both keep the executed notebook with :func:`keep`, and the
export test reads it back with :func:`kept` instead of running the notebook again.
"""
from __future__ import annotations

import base64
import binascii
import copy
import io
import re
from pathlib import Path
from typing import Any, Callable

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from PIL import Image, UnidentifiedImageError

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXPORTED_PNG = re.compile(r"<img[^>]+src=\"data:image/png;base64,([A-Za-z0-9+/=\s]+)\"")
BOX_TEXT = re.compile(r"\b[HV]?Box\(children=")
MIN_PICTURE = (100, 50)  # a widget's picture is at least this wide and tall; smaller is an empty stub

# the notebooks executed this session, by file name: the notebook or why it could not be had
_EXECUTED: dict[str, nbformat.NotebookNode | Exception] = {}


def keep(name: str, read: Callable[[], Any]) -> None:
    """Keep the executed notebook ``read()`` gives (a node or nbformat JSON), or the error it raised."""
    try:
        _EXECUTED[name] = nbformat.from_dict(read())
    except Exception as exc:  # noqa: BLE001 - raised again by the export test of this notebook
        _EXECUTED[name] = exc


def kept(name: str) -> nbformat.NotebookNode | None:
    """The executed notebook kept under ``name`` this session; None when none was kept."""
    result = _EXECUTED.get(name)
    if isinstance(result, Exception):
        raise AssertionError(f"{name}: the executed notebook could not be read: {result}") from result
    return result


def run_headless(path: Path, workdir: Path) -> nbformat.NotebookNode:
    """``path`` executed by a headless kernel in ``workdir``, once per session; a cell error raises."""
    if path.name not in _EXECUTED:
        def execute() -> nbformat.NotebookNode:
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": str(workdir)}}).execute()
            return nb
        keep(path.name, execute)
    notebook = kept(path.name)
    assert notebook is not None
    return notebook


def widget_outputs(nb: nbformat.NotebookNode) -> list[tuple[int, dict]]:
    """(cell index, output) for every output that shows a widget."""
    return [(index, output) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if WIDGET_VIEW in output.get("data", {})]


def as_saved_by_default(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without the widgets' state, as JupyterLab saves a notebook unless told otherwise."""
    saved = copy.deepcopy(nb)
    saved.metadata.pop("widgets", None)
    return saved


def _one_line(text: Any) -> str:
    return re.sub(r"\s", "", "".join(text) if isinstance(text, list) else str(text))


def _picture_problem(png: str) -> str | None:
    try:
        picture = Image.open(io.BytesIO(base64.b64decode(png)))
    except (binascii.Error, UnidentifiedImageError) as exc:
        return f"its image/png is not a PNG ({exc})"
    if picture.width < MIN_PICTURE[0] or picture.height < MIN_PICTURE[1]:
        return f"its picture is only {picture.width}x{picture.height} px"
    return None


def export_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What a reader of the HTML export would miss: one line per widget output without its picture."""
    saved = as_saved_by_default(nb)
    page, _ = HTMLExporter().from_notebook_node(saved)
    shown = {_one_line(src) for src in EXPORTED_PNG.findall(page)}
    problems = []
    for index, output in widget_outputs(saved):
        data = output["data"]
        where = f"cell {index} ({_one_line(data.get('text/plain', ''))[:80]})"
        png = data.get("image/png")
        problem = ("it has no image/png" if not png else _picture_problem(_one_line(png))
                   or (None if _one_line(png) in shown else "its image/png is not an <img> of the export"))
        if problem:
            problems.append(f"{where}: {problem}")
    problems += [f"the export shows a box as text: ...{page[m.start() - 40:m.start() + 80]}..."
                 for m in BOX_TEXT.finditer(page)]
    return problems


def assert_export_shows_pictures(nb: nbformat.NotebookNode, name: str) -> None:
    """Every widget output of ``nb`` (there is at least one) is a picture in its HTML export."""
    outputs = widget_outputs(nb)
    assert outputs, f"{name} shows no widget"
    problems = export_problems(nb)
    assert not problems, (f"{name}: what the HTML export of its {len(outputs)} widget outputs misses:\n"
                          + "\n".join(problems))
