"""A notebook that the legibility test runs in JupyterLab this session is not run a second time here.

``tests/browser/test_legibility.py`` runs every notebook in ``notebooks/`` top to bottom in the
session's JupyterLab and fails each of that notebook's tests when a cell raises
(``labharness.run_all_cells``) or when the page shows no widget: the same two facts
``test_notebook_runs`` checks headless. Running every notebook twice cost minutes of the suite,
so the headless run is kept for the notebooks the browser tests do not run this session (browser
tests disabled with ``NNLENS_SKIP_BROWSER=1``, or only this directory selected).
"""
from __future__ import annotations

import os

import pytest

LEGIBILITY_MODULE = "test_legibility.py"


def _notebooks_run_in_lab(items) -> set[str]:
    if os.environ.get("NNLENS_SKIP_BROWSER") == "1":
        return set()
    return {item.callspec.params["notebook"] for item in items
            if item.path.name == LEGIBILITY_MODULE and hasattr(item, "callspec")}


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect have left the items that will run
def pytest_collection_modifyitems(config, items):
    in_lab = _notebooks_run_in_lab(items)
    for item in items:
        if item.originalname == "test_notebook_runs" and item.callspec.params["path"].name in in_lab:
            item.add_marker(pytest.mark.skip(
                reason="run in JupyterLab this session by tests/browser/test_legibility.py, "
                       "which fails on a cell error or a page without widgets"))
