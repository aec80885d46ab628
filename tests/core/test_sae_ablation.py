"""sae_ablate against the model written out by hand; a feature's map, input gradient and channels."""
import pytest
import torch

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, class_probabilities, hook_count
from nnlens_widgets.core.sae import SAEAblated, feature_channels, feature_gradient, feature_map, sae_ablate
from tests.core.sae_models import digits, digits_head, digits_relu3, digits_sae, encode_by_hand
from tests.core.sae_models import one_thread  # noqa: F401 - training on one thread
from tests.core.vit_models import tv_vit


@pytest.fixture(scope="module")
def setup():
    model, data = digits()
    sae = digits_sae(model, data.x_train[:60], steps=20)
    return model, sae, data.x_test[:5]


def by_hand(model, sae, x, features):
    with torch.no_grad():
        a = digits_relu3(model, x)
        rows = a.flatten(2).transpose(1, 2)
        z = encode_by_hand(sae, rows)[..., features]  # (N, P, len(features))
        part = z @ sae.W_dec[:, features].T  # (N, P, D)
        return digits_head(model, a - part.transpose(1, 2).reshape(a.shape)), z


def test_sae_ablate_equals_a_hand_recomputation(setup):
    model, sae, x = setup
    before = ModelSnapshot.of(model)
    with torch.no_grad():
        plain = model(x)
    fires = encode_by_hand(sae, digits_relu3(model, x).detach().flatten(2).transpose(1, 2)).gt(0).sum((0, 1))
    feature = int(fires.argmax())
    expected, z = by_hand(model, sae, x, [feature])
    assert z.gt(0).any()  # the feature fires on these images, so switching it off changes something
    got = sae_ablate(model, sae, x, feature)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert (got - plain).abs().max() > 1e-3
    one = sae_ablate(model, sae, x[0], feature, layer="relu3")  # one image (C, H, W)
    torch.testing.assert_close(one, expected[:1], rtol=1e-5, atol=1e-5)
    several = [feature, int(fires.argsort()[-2])]
    torch.testing.assert_close(sae_ablate(model, sae, x, several), by_hand(model, sae, x, several)[0],
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sae_ablate(model, sae, x, []), plain, rtol=1e-6, atol=1e-6)
    probs = class_probabilities(SAEAblated(model, sae, feature), x)
    torch.testing.assert_close(probs, expected.softmax(1), rtol=1e-5, atol=1e-6)
    assert not before.differences(ModelSnapshot.of(model)) and hook_count(model) == 0


def test_transformer_ablation_leaves_the_class_token_and_other_blocks_alone():
    model = tv_vit(seed=2)
    x = torch.rand(6, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    layer = "encoder.layers.encoder_layer_0"
    sae = nl.core.train_sae(model, layer, x, features=30, k=3, steps=5, held_out=0.3)
    feature = int(sae.stats.frequency.argmax())

    def run(change):  # torchvision's VisionTransformer forward, written out
        with torch.no_grad():
            h = model._process_input(x)
            h = torch.cat([model.class_token.expand(len(x), -1, -1), h], 1) + model.encoder.pos_embedding
            for i, block in enumerate(model.encoder.layers):
                h = block(h)
                if i == 0:
                    h = change(h)
            return model.heads(model.encoder.ln(h)[:, 0])

    def switch_off(h):
        patches = h[:, 1:]
        z = encode_by_hand(sae, patches)[..., feature]
        return torch.cat([h[:, :1], patches - z[..., None] * sae.W_dec[:, feature]], 1)

    expected = run(switch_off)
    assert (expected - run(lambda h: h)).abs().max() > 1e-4
    torch.testing.assert_close(sae_ablate(model, sae, x, feature), expected, rtol=1e-4, atol=1e-5)


def test_feature_map_is_the_encoding_at_every_position(setup):
    model, sae, x = setup
    f = 5
    maps = feature_map(model, sae, x[:2], f)
    rows = digits_relu3(model, x[:2]).detach().flatten(2).transpose(1, 2)
    torch.testing.assert_close(maps, encode_by_hand(sae, rows)[..., f], rtol=1e-5, atol=1e-5)
    assert maps.shape == (2, 256) and not maps.requires_grad


def test_feature_gradient_equals_autograd_through_the_written_out_model(setup):
    model, sae, x = setup
    before = ModelSnapshot.of(model)
    rows = digits_relu3(model, x[:1]).detach().flatten(2).transpose(1, 2)[0]
    z = encode_by_hand(sae, rows)
    f = int(z.gt(0).sum(0).argmax())
    result = feature_gradient(model, sae, x[0], f)
    assert result.position == int(z[:, f].argmax()) and result.value == pytest.approx(float(z[:, f].max()))
    inp = x[:1].clone().requires_grad_(True)
    a = digits_relu3(model, inp).flatten(2).transpose(1, 2)[0]
    pre = (a - sae.b_dec) @ sae.W_enc[f] + sae.b_enc[f]
    (expected,) = torch.autograd.grad(pre[result.position], inp)
    torch.testing.assert_close(result.gradient, expected[0], rtol=1e-4, atol=1e-6)
    assert result.gradient.shape == (1, 32, 32) and result.gradient.abs().sum() > 0
    at = feature_gradient(model, sae, x[0], f, position=3)
    assert at.position == 3 and at.value == pytest.approx(float(z[3, f]))
    assert all(p.grad is None for p in model.parameters())
    assert not before.differences(ModelSnapshot.of(model))
    with pytest.raises(ValueError, match="position 999 is out of range"):
        feature_gradient(model, sae, x[0], f, position=999)
    with pytest.raises(ValueError, match="expected one input"):
        feature_gradient(model, sae, x[:2], f)


def test_channels_a_feature_reads_most(setup):
    _, sae, _ = setup
    read = feature_channels(sae, 7, n=5)
    row = sae.W_enc[7]
    assert read.weights.tolist() == row[read.channels].tolist()
    assert read.weights.abs().tolist() == sorted(row.abs().tolist(), reverse=True)[:5]
    assert len(feature_channels(sae, 7).channels) == 64


def test_bad_features_and_layers_are_clear_errors(setup):
    model, sae, x = setup
    with pytest.raises(ValueError, match=r"feature\(s\) \[128\] out of range"):
        sae_ablate(model, sae, x, 128)
    with pytest.raises(ValueError, match="reads layer 'relu3', not 'relu2'"):
        sae_ablate(model, sae, x, 1, layer="relu2")
    with pytest.raises(ValueError, match="expected a feature number"):
        feature_channels(sae, "seven")
    with pytest.raises(ValueError, match="expected a SparseAutoencoder"):
        sae_ablate(model, object(), x, 1)
    with pytest.raises(ValueError, match="finite"):
        sae_ablate(model, sae, x * float("nan"), 1)
    with pytest.raises(TypeError, match="looking_at"):
        SAEAblated(model, sae, 1).train()
