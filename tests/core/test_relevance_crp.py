"""Concept relevance (CRP): a hand computation on a tiny net, conditional maps adding up to the
class's LRP map, channel shares, per-image channel relevance for ranking (RelMax), clear errors."""
import pytest
import torch
from torch import nn

import nnlens_widgets as nl

from .attribution_models import ModuleReluNet, randomised, single_thread  # noqa: F401
from .vit_models import image, tv_vit


def _mlp():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).eval()


def _stab(z, eps):
    return z + eps * torch.where(z >= 0, 1.0, -1.0)


def test_conditional_maps_match_a_hand_computation_on_a_tiny_net():
    model, eps = _mlp(), 1e-6
    x = torch.tensor([[0.5, -1.0, 2.0, 0.25]])
    w1, b1, w2, b2 = model[0].weight, model[0].bias, model[2].weight, model[2].bias
    with torch.no_grad():
        z1 = x @ w1.T + b1
        a = z1.clamp(min=0)
        z2 = a @ w2.T + b2
        for c in (0, 1):
            r_hidden = a[0] * w2[c] * z2[0, c] / _stab(z2[0, c], eps)  # epsilon rule, starting from the logit
            expected = torch.stack([x[0] * w1[j] * r_hidden[j] / _stab(z1[0, j], eps) for j in range(3)])
            got = nl.core.crp(model, x, "1", channels=[0, 1, 2], target=c, rule="epsilon", epsilon=eps)
            torch.testing.assert_close(got.maps, expected, rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(got.relevance, r_hidden, rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(got.share, r_hidden / r_hidden.sum(), rtol=1e-5, atol=1e-7)
            assert got.score == pytest.approx(float(z2[0, c])) and got.target == c


@pytest.mark.parametrize("options", [{}, {"composite": "epsilon_gamma_box"}, {"rule": "epsilon"}],
                         ids=["epsilon_plus_flat", "epsilon_gamma_box", "epsilon"])
def test_conditional_maps_of_all_channels_add_up_to_the_class_map(options):
    torch.manual_seed(0)
    model = randomised(ModuleReluNet())
    x = torch.rand(1, 3, 10, 10, generator=torch.Generator().manual_seed(1))
    whole = nl.core.lrp(model, x, 2, layer="conv2", **options)
    concepts = nl.core.crp(model, x, "conv2", channels=range(8), target=2, batch_size=3, **options)
    torch.testing.assert_close(concepts.maps.sum(0, keepdim=True), whole.relevance, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(concepts.all_channels, whole.channel_relevance[0])
    assert concepts.maps.shape == (8, 3, 10, 10)
    assert float(concepts.share.sum()) == pytest.approx(1.0)
    top = nl.core.crp(model, x, "conv2", target=2, top=3, **options)
    assert top.channels == concepts.ranking()[:3]
    assert list(top.relevance) == sorted(top.relevance, reverse=True)


def test_transformer_feature_maps_add_up_too():
    model, x = tv_vit(), image()
    layer = "encoder.layers.encoder_layer_0"
    whole = nl.core.lrp(model, x, 1, layer=layer)
    concepts = nl.core.crp(model, x, layer, channels=range(36), target=1, batch_size=12)
    torch.testing.assert_close(concepts.maps.sum(0, keepdim=True), whole.relevance, rtol=1e-4, atol=1e-6)
    assert whole.layer_relevance.shape == (1, 36, 5, 5) and whole.channel_relevance.shape == (1, 36)


def test_channel_relevance_of_a_batch_is_each_images_own():
    torch.manual_seed(0)
    model = randomised(ModuleReluNet())
    images = torch.rand(5, 3, 10, 10, generator=torch.Generator().manual_seed(2))
    predicted = model(images).argmax(1)
    ranked = nl.core.channel_relevance(model, images, "conv3", batch_size=2)
    assert ranked.scores.shape == (5, 8) and ranked.maps.shape == (5, 8, 10, 10)
    assert torch.equal(ranked.targets, predicted)
    for i in range(5):
        single = nl.core.lrp(model, images[i], int(predicted[i]), layer="conv3")
        torch.testing.assert_close(ranked.scores[i], single.channel_relevance[0])
        torch.testing.assert_close(ranked.maps[i], single.layer_relevance[0])
    per_image = nl.core.channel_relevance(model, images, "conv3", target=[0, 1, 2, 3, 4])
    assert per_image.targets.tolist() == [0, 1, 2, 3, 4]
    torch.testing.assert_close(per_image.shares.sum(1), torch.ones(5))


def test_bad_channels_layers_and_targets_get_clear_errors():
    torch.manual_seed(0)
    model = randomised(ModuleReluNet())
    x = torch.rand(1, 3, 10, 10)
    with pytest.raises(ValueError, match="channels in 0..7 of layer 'conv2'"):
        nl.core.crp(model, x, "conv2", channels=[8])
    with pytest.raises(KeyError):
        nl.core.crp(model, x, "conv9")
    with pytest.raises(ValueError, match="one target class per image"):
        nl.core.channel_relevance(model, torch.rand(3, 3, 10, 10), "conv2", target=[0, 1])
    with pytest.raises(ValueError, match="top as an integer"):
        nl.core.crp(model, x, "conv2", top=0)
