"""An nbconvert HTML export shows a picture for every output that holds one of our widgets."""
import base64
import io
import re

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from PIL import Image

CELLS = [
    "import ipywidgets as widgets\nimport nnlens_widgets as nl\n"
    "model = nl.zoo.digits_cnn(pretrained=True)\nx = nl.zoo.digits_data().x_test[0]",
    'grid = nl.ActivationGrid(model, x, layer="conv2")\ngrid',
    'nl.column(grid, nl.FilterGrid(model, layer="conv1"))',
    'nl.row(nl.FilterGrid(model, layer="conv1"), widgets.Label("a note beside it"))',
    'nl.grid(nl.FilterGrid(model, layer="conv1"), widgets.IntSlider(description="k"), widgets.HTML("<b>hi</b>"), '
    "columns=2)",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_exported_notebook_shows_a_picture_for_every_widget_output(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # as JupyterLab saves a notebook by default: outputs without the widgets' state, so an export (or
    # GitHub, nbviewer) cannot rebuild the live views and shows each output's image/png instead
    NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert len(outputs) == 4
    for output in outputs:
        png = output["data"].get("image/png")
        assert png, f"a widget output without a picture: {output['data'].get('text/plain')}"
        picture = Image.open(io.BytesIO(base64.b64decode(png)))
        assert picture.width > 100 and picture.height > 50

    page, _ = HTMLExporter().from_notebook_node(nb)
    (tmp_path / "exported.html").write_text(page)
    shown = re.findall(r"<img[^>]+src=\"data:image/png;base64,([A-Za-z0-9+/=\s]+)\"", page)
    assert len(shown) >= len(outputs), f"{len(shown)} pictures in the export for {len(outputs)} widget outputs"
    for output in outputs:  # each widget's own picture is in the page
        assert output["data"]["image/png"].replace("\n", "")[:200] in {s.replace("\n", "")[:200] for s in shown}
    assert "VBox(children=" not in page and "Box(children=" not in page
