"""The saliency explorer offers LIME's top="stable" and says which set it backs."""
import numpy as np
import torch

import nnlens_widgets as nl
from tests.core.test_attribution_lime import ColourModel, _blobs


def test_the_explorer_reports_the_stable_top_set_lime_found():
    x = torch.from_numpy(_blobs(0, 64).transpose(2, 0, 1)).float()
    w = nl.SaliencyExplorer(ColourModel().eval(), x, methods=["lime"], autorun=False)
    assert "stable" in w.controls["params.lime.top"].options[-1]
    w.params = {"lime": {"samples": 200, "top": "stable"}}
    w.refresh()
    assert w.wait(120) and w.error is None
    expected = nl.core.lime(ColourModel().eval(), x, w.target, samples=200, top="stable")
    np.testing.assert_allclose(w.maps["lime"][0, 0].numpy(), expected.weights[0, 0].numpy(), rtol=1e-5, atol=1e-7)
    caption = w.views["lime"].caption.value
    assert f"stability: top {expected.stable_top} stable at 95% after 200 samples" in caption
    w.close()
