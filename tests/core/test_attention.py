"""Attention probabilities, rollout and gradient-weighted relevance: recomputation from the
weights, torch's and timm's own attention, hand-made cases, model left alone, clear errors."""
import copy

import pytest
import torch
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, hook_count

from .attribution_models import single_thread  # noqa: F401 (fixture)
from .vit_models import image, manual_forward, tv_vit


# -- attention_maps -------------------------------------------------------------
def test_attention_maps_equal_recomputation_from_in_proj_weights():
    model, x = tv_vit(0), image(0)
    kept = []
    with torch.no_grad():
        logits = manual_forward(model, x, kept)
        torch.testing.assert_close(logits, model(x), rtol=1e-5, atol=1e-5)  # the reference is the model
    maps = nl.core.attention_maps(model, x)
    names = [f"encoder.layers.encoder_layer_{i}.self_attention" for i in range(2)]
    assert list(maps) == names  # ordered by depth
    for name, ref in zip(names, kept):
        a = maps[name]
        assert a.shape == (3, 26, 26)  # 3 heads, 1 class token + 5x5 patches
        torch.testing.assert_close(a, ref[0], rtol=0, atol=1e-5)
        torch.testing.assert_close(a.sum(-1), torch.ones(3, 26))
        assert float(a.std()) > 0.01  # not uniform: the comparison means something


def test_attention_maps_equal_torch_own_weights_with_masks_and_seq_first():
    """nn.MultiheadAttention called with need_weights=True gives its own probabilities."""
    torch.manual_seed(1)

    class Net(nn.Module):
        def __init__(self, batch_first):
            super().__init__()
            self.attn = nn.MultiheadAttention(12, 4, batch_first=batch_first)
            self.batch_first = batch_first
            self.mask = torch.rand(7, 7) > 0.7
            self.mask.fill_diagonal_(False)
            self.padding = torch.tensor([[False] * 6 + [True]])

        def forward(self, x):
            x = x if self.batch_first else x.transpose(0, 1)
            out, _ = self.attn(x, x, x, key_padding_mask=self.padding, attn_mask=self.mask, need_weights=False)
            return out

    for batch_first in (True, False):
        net = Net(batch_first).eval()
        x = torch.randn(1, 7, 12)
        ours = nl.core.attention_maps(net, x)["attn"]
        q = x if batch_first else x.transpose(0, 1)
        with torch.no_grad():
            _, ref = net.attn(q, q, q, key_padding_mask=net.padding, attn_mask=net.mask,
                              need_weights=True, average_attn_weights=False)
        torch.testing.assert_close(ours, ref[0], rtol=0, atol=1e-6)
        assert float(ours[..., 6].abs().max()) == 0.0  # the padded key gets nothing


def test_attention_capture_leaves_the_model_alone():
    model = tv_vit(2)
    model.train()  # dropout layers in train mode: capture runs an eval twin, the flags stay
    model.encoder.layers[0].self_attention.dropout = 0.5
    model.encoder.layers[0].ln_1.weight.requires_grad_(False)
    before = ModelSnapshot.of(model)
    x = image(2)
    runs = [
        lambda: nl.core.attention_maps(model, x),
        lambda: nl.core.attention_rollout(model, x, discard_ratio=0.5, head_fusion="max"),
        lambda: nl.core.transformer_attribution(model, x, 1),
        lambda: nl.core.grad_cam(model, x, 1),
        lambda: nl.core.attribution.spatial_layers(model, x),
    ]
    first = nl.core.attention_maps(model, x)
    for run in runs:
        run()
        assert ModelSnapshot.of(model).differences(before) == {}
        assert hook_count(model) == 0
        assert all(p.grad is None for p in model.parameters())
    again = nl.core.attention_maps(model, x)
    for name in first:  # eval-mode twin: deterministic although the model is in train mode
        torch.testing.assert_close(again[name], first[name], rtol=0, atol=0)
    assert model.training


def _timm_vit(**kw):
    timm = pytest.importorskip("timm")
    torch.manual_seed(3)
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=40, patch_size=8, embed_dim=36, depth=2, num_heads=3, num_classes=4, **kw)
    with torch.no_grad():
        for block in model.blocks:
            block.attn.qkv.weight.mul_(3.0)
    return model.eval()


@pytest.mark.parametrize("kw", [{}, {"reg_tokens": 4, "qk_norm": True}], ids=["plain", "registers_qk_norm"])
def test_timm_attention_equals_its_own_unfused_probabilities(kw):
    model = _timm_vit(**kw)
    x = image(3)
    ours = nl.core.attention_maps(model, x)
    assert list(ours) == ["blocks.0.attn", "blocks.1.attn"]
    # timm's own explicit path: its attn_drop module receives the softmax probabilities
    ref_model = copy.deepcopy(model)
    seen = []
    for block in ref_model.blocks:
        block.attn.fused_attn = False
        block.attn.attn_drop.register_forward_hook(lambda _m, i, _o: seen.append(i[0][0].detach()))
    with torch.no_grad():
        ref_model(x)
    prefix = 1 + kw.get("reg_tokens", 0)
    for a, ref in zip(ours.values(), seen):
        assert a.shape == (3, prefix + 25, prefix + 25)
        torch.testing.assert_close(a, ref, rtol=0, atol=1e-5)
    grid = nl.core.token_grid(model, x)
    assert grid == nl.core.TokenGrid(5, 5, prefix)
    assert nl.core.attention_rollout(model, x).patch_map.shape == (1, 1, 5, 5)
    assert hook_count(model) == 0


# -- rollout ----------------------------------------------------------------------
def test_rollout_hand_made_case():
    a1 = torch.tensor([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]])[None]
    a2 = torch.tensor([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])[None]
    # A' = 0.5 A + 0.5 I: [[.75,.25,0],[0,1,0],[0,.25,.75]] and [[.5,.25,.25],[0,1,0],[.5,0,.5]]
    # rollout = A2' A1'; its first row: .5*[.75,.25,0] + .25*[0,1,0] + .25*[0,.25,.75]
    r = nl.core.rollout_matrix([a1, a2])
    torch.testing.assert_close(r[0], torch.tensor([0.375, 0.4375, 0.1875]))
    torch.testing.assert_close(r.sum(-1), torch.ones(3))
    # two heads fused by max, rows renormalised after adding the identity
    heads = torch.tensor([[[0.2, 0.8], [0.6, 0.4]], [[0.7, 0.3], [0.1, 0.9]]])
    # max: [[.7,.8],[.6,.9]] -> 0.5 A + 0.5 I = [[.85,.4],[.3,.95]] -> rows / [1.25, 1.25]
    torch.testing.assert_close(nl.core.rollout_matrix([heads], head_fusion="max"),
                               torch.tensor([[0.68, 0.32], [0.24, 0.76]]))
    # discard: the lowest quarter of the mean [[.45,.55],[.35,.65]] is .35 -> 0
    # -> [[.725,.275],[0,.825]] -> second row / .825
    torch.testing.assert_close(nl.core.rollout_matrix([heads], discard_ratio=0.25),
                               torch.tensor([[0.725, 0.275], [0.0, 1.0]]))


def test_rollout_on_a_vit_is_the_class_row_of_the_formula():
    model, x = tv_vit(4), image(4)
    maps = nl.core.attention_maps(model, x)
    expected = nl.core.rollout_matrix(list(maps.values()))[0, 1:].reshape(5, 5)
    out = nl.core.attention_rollout(model, x)
    torch.testing.assert_close(out.patch_map[0, 0], expected)
    assert out.upsampled.shape == (1, 1, 40, 40)
    assert out.grid == nl.core.TokenGrid(5, 5, 1)
    assert nl.core.pixel_map(out) is out.upsampled


# -- gradient-weighted relevance (Chefer et al.) ---------------------------------
@pytest.mark.parametrize("target", [None, 2])
def test_transformer_attribution_equals_the_formula_on_a_hand_written_forward(target):
    model, x = tv_vit(5), image(5)
    kept = []
    with torch.enable_grad():
        logits = manual_forward(model, x, kept)
        t = int(logits.argmax()) if target is None else target
        grads = torch.autograd.grad(logits[0, t], kept)
    r = torch.eye(26, dtype=torch.float64)
    for a, g in zip(kept, grads):
        r = r + (g[0] * a[0]).clamp(min=0).mean(0).double() @ r
    expected = r[0, 1:].reshape(5, 5).float().detach()
    out = nl.core.transformer_attribution(model, x, target)
    assert float(expected.abs().max()) > 0
    torch.testing.assert_close(out.patch_map[0, 0], expected, rtol=1e-4, atol=1e-6)
    ours = nl.core.relevance_matrix([a[0].detach() for a in kept], [g[0] for g in grads])
    torch.testing.assert_close(ours, r.float(), rtol=1e-5, atol=1e-7)


def test_transformer_attribution_follows_target_conventions():
    model, x = tv_vit(6), image(6)
    by_callable = nl.core.transformer_attribution(model, x, lambda out: out[:, 3])
    torch.testing.assert_close(by_callable.patch_map, nl.core.transformer_attribution(model, x, 3).patch_map)
    with pytest.raises(ValueError, match=r"class index in 0\.\.3, got 7"):
        nl.core.transformer_attribution(model, x, 7)


# -- errors -------------------------------------------------------------------------
def test_bad_inputs_give_clear_errors():
    model = tv_vit(7)
    with pytest.raises(ValueError, match=r"expected 40x40 images for this VisionTransformer.*got 48x48"):
        nl.core.attention_maps(model, image(7, 48))
    with pytest.raises(ValueError, match=r"expected 40x40 images"):
        nl.core.attention_rollout(model, image(7, 41))
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    cnn(image(0))
    with pytest.raises(ValueError, match="no attention layer"):
        nl.core.attention_maps(cnn, image(0))
    with pytest.raises(ValueError, match="no attention layer"):
        nl.core.transformer_attribution(cnn, image(0), 0)
    with pytest.raises(ValueError, match=r"discard_ratio in \[0, 1\)"):
        nl.core.attention_rollout(model, image(7), discard_ratio=1.0)
    with pytest.raises(ValueError, match="head_fusion in"):
        nl.core.attention_rollout(model, image(7), head_fusion="median")
    extra = nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True)

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = extra

        def forward(self, x):
            return self.attn(x, x, x)[0]

    with pytest.raises(ValueError, match="add_bias_kv"):
        nl.core.attention_maps(Odd(), torch.randn(1, 5, 8))
    assert hook_count(model) == 0 and hook_count(cnn) == 0
