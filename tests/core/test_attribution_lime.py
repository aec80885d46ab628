"""LIME: same samples and segmentation as the `lime` package -> same superpixel ranking."""
import numpy as np
import pytest
import torch
from lime.lime_image import LimeImageExplainer
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import hook_count

from .attribution_models import single_thread  # noqa: F401 (fixture)


class ColourModel(nn.Module):
    """Three classes scored by how red / green / blue the image is, location weighted."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.conv.weight.copy_((torch.eye(3) * 1.5 - 0.5).view(3, 3, 1, 1))
            self.conv.bias.zero_()
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(12, 3)
        with torch.no_grad():
            w = torch.zeros(3, 3, 2, 2)
            for c in range(3):
                w[c, c] = torch.tensor([[8.0, 4.0], [2.0, 1.0]])
            self.fc.weight.copy_(w.view(3, 12))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


def _blobs(seed=0, size=40):
    """A grey image with coloured discs of different sizes."""
    rng = np.random.RandomState(seed)
    img = np.full((size, size, 3), 0.5)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(7):
        cy, cx, r = rng.randint(4, size - 4), rng.randint(4, size - 4), rng.randint(3, 8)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.rand(3)
    return img


@pytest.mark.parametrize("seed", [0, 1])
def test_lime_ranking_matches_lime_package(seed):
    model = ColourModel().eval()
    img = _blobs(seed, 64)
    x = torch.from_numpy(img.transpose(2, 0, 1)).float()
    ours = nl.core.lime(model, x, target=0, samples=300, seed=seed, kernel_size=2)
    n = ours.segments.max() + 1
    assert n >= 10
    assert ours.weights.shape == (1, 1, 64, 64)

    def predict(images):
        batch = torch.from_numpy(np.asarray(images).transpose(0, 3, 1, 2)).float()
        with torch.no_grad():
            return torch.softmax(model(batch), 1).numpy()

    explainer = LimeImageExplainer(random_state=seed)
    exp = explainer.explain_instance(
        img, predict, labels=(0,), top_labels=None, hide_color=None, num_samples=300,
        segmentation_fn=lambda _image: ours.segments, random_seed=seed, batch_size=50)
    theirs = np.zeros(n)
    for feature, coef in exp.local_exp[0]:
        theirs[feature] = coef
    top_ours, top_theirs = set(ours.top_segments(5)), set(np.argsort(-theirs)[:5])
    overlap = len(top_ours & top_theirs)
    print(f"LIME top-5 overlap with the lime package (seed {seed}): {overlap}/5")
    assert overlap >= 4
    np.testing.assert_allclose(ours.coefficients, theirs, rtol=1e-3, atol=1e-3 * np.abs(theirs).max())
    assert ours.intercept == pytest.approx(exp.intercept[0], rel=1e-3)


def test_lime_segments_follow_quickshift_defaults_and_pixels_get_their_weight():
    from skimage.segmentation import quickshift

    model = ColourModel().eval()
    img = _blobs(3)
    x = torch.from_numpy(img.transpose(2, 0, 1)).float()
    res = nl.core.lime(model, x, target=1, samples=50, seed=5)
    seg = quickshift(x.numpy().transpose(1, 2, 0).astype(np.float64), kernel_size=4,
                     max_dist=200, ratio=0.2, rng=5)
    assert (np.unique(seg, return_inverse=True)[1].reshape(seg.shape) == res.segments).all()
    np.testing.assert_allclose(res.weights[0, 0].numpy(), res.coefficients[res.segments], rtol=1e-6)
    slic = nl.core.lime(model, x, target=1, samples=50, segmentation="slic", n_segments=20)
    assert 5 <= slic.segments.max() + 1 <= 40
    assert hook_count(model) == 0


def test_lime_batches_give_the_same_answer_and_report_progress():
    model = ColourModel().eval()
    x = torch.from_numpy(_blobs(4).transpose(2, 0, 1)).float()
    seen = []
    a = nl.core.lime(model, x, 2, samples=120, batch_size=50, progress=seen.append)
    b = nl.core.lime(model, x, 2, samples=120, batch_size=120)
    np.testing.assert_allclose(a.coefficients, b.coefficients, rtol=1e-5, atol=1e-9)
    assert seen == pytest.approx([50 / 120, 100 / 120, 1.0])


def test_lime_bad_inputs():
    model = ColourModel().eval()
    x = torch.rand(3, 20, 20)
    with pytest.raises(ValueError, match="segmentation in"):
        nl.core.lime(model, x, 0, samples=10, segmentation="watershed")
    with pytest.raises(ValueError, match="segments shaped"):
        nl.core.lime(model, x, 0, samples=10, segments=np.zeros((5, 5), int))
    with pytest.raises(ValueError, match="LIME for images"):
        nl.core.lime(nn.Sequential(nn.Flatten(), nn.Linear(20, 2)), torch.rand(1, 20), 0)
