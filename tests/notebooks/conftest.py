"""Each notebook runs once per test session: in JupyterLab when the legibility test runs it, else headless.

``tests/browser/test_legibility.py`` runs every notebook in ``notebooks/`` top to bottom in the
session's JupyterLab and fails each of that notebook's tests when a cell raises
(``labharness.run_all_cells``) or when the page shows no widget: the same two facts
``test_notebook_runs`` checks headless. Running every notebook twice cost minutes of the suite,
so the headless run is kept for the notebooks the browser tests do not run this session (browser
tests disabled with ``NNLENS_SKIP_BROWSER=1``, or only this directory selected).

The export test of a notebook run in JupyterLab checks the notebook as that run left it (kept by
``export_check.keep``), so it is moved after every other test; the others share one headless run.
"""
from __future__ import annotations

import os

import pytest

from tests.notebooks import export_check

LEGIBILITY_MODULE = "test_legibility.py"
EXPORT_TEST = "test_notebook_export_shows_a_picture_for_every_widget_output"
RUN_IN_LAB = pytest.StashKey[set]()


def _notebooks_run_in_lab(items) -> set[str]:
    if os.environ.get("NNLENS_SKIP_BROWSER") == "1":
        return set()
    return {item.callspec.params["notebook"] for item in items
            if item.path.name == LEGIBILITY_MODULE and hasattr(item, "callspec")}


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect have left the items that will run
def pytest_collection_modifyitems(config, items):
    in_lab = _notebooks_run_in_lab(items)
    config.stash[RUN_IN_LAB] = in_lab
    after_lab = []
    for item in items:
        if not hasattr(item, "callspec") or "path" not in item.callspec.params:
            continue
        if item.callspec.params["path"].name not in in_lab:
            continue
        if item.originalname == "test_notebook_runs":
            item.add_marker(pytest.mark.skip(
                reason="run in JupyterLab this session by tests/browser/test_legibility.py, "
                       "which fails on a cell error or a page without widgets"))
        elif item.originalname == EXPORT_TEST:
            after_lab.append(item)
    moved = {id(item) for item in after_lab}
    items[:] = [item for item in items if id(item) not in moved] + after_lab


@pytest.fixture
def executed_notebook(request, path, tmp_path):
    """``path`` as this session's one run of it left it: in JupyterLab or headless."""
    if path.name not in request.config.stash.get(RUN_IN_LAB, set()):
        return export_check.run_headless(path, tmp_path)
    notebook = export_check.kept(path.name)
    if notebook is None:
        pytest.fail(f"{path.name} did not finish running in JupyterLab (tests/browser/test_legibility.py "
                    "fails its tests with the reason), so there is no executed notebook to export")
    return notebook
