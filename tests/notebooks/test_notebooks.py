"""Every notebook in notebooks/ runs top to bottom, headless, without error."""
from pathlib import Path

import pytest

from tests.notebooks import export_check

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name == "00_tour.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nb = export_check.run_headless(path, tmp_path)  # the run test_export.py made this session, if it did
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert export_check.widget_outputs(nb), "the notebook shows no widget"
