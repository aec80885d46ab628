"""LRP on torchvision classifiers beyond ResNet and VGG (the full table: benchmarks/lrp.py).

With every bias and BatchNorm shift zeroed nothing can absorb relevance, so epsilon-LRP must
hand the whole logit to the input: a rule that lost or duplicated relevance anywhere (a
depthwise convolution with its merged BatchNorm, an inverted-residual sum, a BatchNorm before
its convolution, a functional relu, a concatenation) would show here."""
import pytest
import torch
import torchvision
from torch import nn

import nnlens_widgets as nl

from .attribution_models import single_thread  # noqa: F401 (fixture)


def _bias_free(model: nn.Module) -> nn.Module:
    """BatchNorm scales from a batch of random images (so activations keep their size, and the
    1e-12 stabiliser stays negligible), then every shift and bias zeroed."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
        for m in norms:
            m.running_mean.zero_()
        for m in model.modules():
            if getattr(m, "bias", None) is not None:
                m.bias.zero_()
    return model.eval().double()


@pytest.mark.parametrize("make", [torchvision.models.mobilenet_v2, torchvision.models.densenet121],
                         ids=["mobilenet_v2", "densenet121"])
def test_bias_free_epsilon_lrp_hands_the_whole_logit_to_the_input(make):
    torch.manual_seed(0)
    model = _bias_free(make(num_classes=10))
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    r = nl.core.lrp(model, x, rule="epsilon", epsilon=1e-12)
    assert r.warnings == ()
    assert float(r.conservation[0]) == pytest.approx(1.0, abs=1e-6)
    assert "BatchNorm merged" in r.rules
    composite = nl.core.lrp(model, x)  # the default composite runs too, with a finite map
    assert torch.isfinite(composite.relevance).all() and composite.warnings == ()
