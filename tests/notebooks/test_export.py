"""An nbconvert HTML export shows a picture for every output that holds one of our widgets.

Every notebook in notebooks/ is checked on the run this session already makes of it: in
JupyterLab by tests/browser/test_legibility.py when that test runs the notebook (this test then
comes after it, see conftest.py), headless otherwise (shared with test_notebooks.py).
"""
import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks import export_check
from tests.notebooks.test_notebooks import NOTEBOOKS

CELLS = [
    "import ipywidgets as widgets\nimport nnlens_widgets as nl\n"
    "model = nl.zoo.digits_cnn(pretrained=True)\nx = nl.zoo.digits_data().x_test[0]",
    'grid = nl.ActivationGrid(model, x, layer="conv2")\ngrid',
    'nl.column(grid, nl.FilterGrid(model, layer="conv1"))',
    'nl.row(nl.FilterGrid(model, layer="conv1"), widgets.Label("a note beside it"))',
    'nl.grid(nl.FilterGrid(model, layer="conv1"), widgets.IntSlider(description="k"), widgets.HTML("<b>hi</b>"), '
    "columns=2)",
    "widgets.VBox([nl.FilterGrid(model, layer='conv1')])",  # a bare box: what the check must catch
]


def test_exported_containers_show_their_pictures_and_a_bare_box_is_caught(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = export_check.widget_outputs(nb)
    assert [index for index, _ in outputs] == [1, 2, 3, 4, 5]

    problems = export_check.export_problems(nb)
    assert problems and all(p.startswith("cell 5 ") or "shows a box as text" in p for p in problems), problems
    assert any(p.startswith("cell 5 ") and "no image/png" in p for p in problems), problems

    nb.cells.pop()  # without the bare box, nothing is missed
    export_check.assert_export_shows_pictures(nb, "containers")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_export_shows_a_picture_for_every_widget_output(path, executed_notebook):
    export_check.assert_export_shows_pictures(executed_notebook, path.name)
