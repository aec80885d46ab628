"""LRP on vision transformers: AttnLRP's rules against an independent Gradient x Input
formulation written out here; timm's fused attention equal to the unfused model; the shapes ViT."""
import math

import pytest
import torch
import torch.nn.functional as F

import nnlens_widgets as nl

from .attribution_models import single_thread  # noqa: F401 (fixture)
from .vit_models import image, tv_vit


class _HalveGradient(torch.autograd.Function):
    """The uniform rule for a product of two input-dependent factors, as a gradient (AttnLRP eq. 7)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g / 2


class _IdentityRule(torch.autograd.Function):
    """An element-wise activation hands its relevance on unchanged: gradient out/in (AttnLRP eq. 9)."""

    @staticmethod
    def forward(ctx, fn, x):
        y = fn(x)
        ctx.save_for_backward(y / x)
        return y

    @staticmethod
    def backward(ctx, g):
        return None, ctx.saved_tensors[0] * g


def _layer_norm(norm, h):
    centred = h - h.mean(-1, keepdim=True)
    return centred / (centred.pow(2).mean(-1, keepdim=True) + norm.eps).sqrt().detach() * norm.weight + norm.bias


def _attnlrp_forward(model, x):
    """torchvision's ViT written out with AttnLRP's rules in Gradient x Input form: then input times
    gradient is the relevance (Achtibat et al. 2024, the "efficient" implementation)."""
    n = x.shape[0]
    tokens = model.conv_proj(x).reshape(n, model.hidden_dim, -1).permute(0, 2, 1)
    h = torch.cat([model.class_token.expand(n, -1, -1), tokens], 1) + model.encoder.pos_embedding
    for block in model.encoder.layers:
        attn = block.self_attention
        heads, e = attn.num_heads, attn.embed_dim
        q, k, v = F.linear(_layer_norm(block.ln_1, h), attn.in_proj_weight, attn.in_proj_bias).split(e, dim=-1)
        q, k, v = (t.reshape(n, -1, heads, e // heads).transpose(1, 2) for t in (q, k, v))
        probs = torch.softmax(_HalveGradient.apply(q @ k.transpose(-1, -2)) / math.sqrt(e // heads), dim=-1)
        h = h + attn.out_proj(_HalveGradient.apply(probs @ v).transpose(1, 2).reshape(n, -1, e))
        mlp = block.mlp
        h = h + mlp[3](_IdentityRule.apply(mlp[1], mlp[0](_layer_norm(block.ln_2, h))))
    return model.heads(_layer_norm(model.encoder.ln, h)[:, 0])


@pytest.mark.parametrize("seed", [0, 1])
def test_epsilon_lrp_on_a_vit_is_attnlrp(seed):
    model, x = tv_vit(seed).double(), image(seed).double()
    xx = x.clone().requires_grad_(True)
    out = _attnlrp_forward(model, xx)
    torch.testing.assert_close(out, model(x))
    for target in (0, 2):
        (grad,) = torch.autograd.grad(out[0, target], xx, retain_graph=True)
        expected = xx.detach() * grad  # sums to about the logit: relevance in the logit's units
        got = nl.core.lrp(model, x, target, rule="epsilon", epsilon=1e-12)
        assert got.warnings == ()
        torch.testing.assert_close(got.relevance, expected, rtol=1e-6, atol=1e-10)


def _timm_vit(**kw):
    timm = pytest.importorskip("timm")
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3, num_classes=5, **kw)
    with torch.no_grad():
        model.head.weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    return model.eval()


@pytest.mark.parametrize("kw", [{}, {"qk_norm": True}, {"reg_tokens": 2, "class_token": True}],
                         ids=["plain", "qk_norm", "registers"])
def test_timm_fused_attention_gives_the_unfused_relevance(kw):
    torch.manual_seed(0)
    model = _timm_vit(**kw).double()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for options in ({"rule": "epsilon"}, {}):
        for block in model.blocks:
            block.attn.fused_attn = True
        fused = nl.core.lrp(model, x, 1, **options)
        for block in model.blocks:
            block.attn.fused_attn = False
        unfused = nl.core.lrp(model, x, 1, **options)
        assert fused.warnings == () and unfused.warnings == ()
        torch.testing.assert_close(fused.relevance, unfused.relevance, rtol=1e-8, atol=1e-12)


def test_the_shapes_vit_gets_a_map_layer_relevance_and_a_conservation_figure():
    model = nl.zoo.shapes_vit()
    data = nl.zoo.make_shapes(1, seed=5)
    r = nl.core.lrp(model, data.images[0], layer="encoder.layers.encoder_layer_3")
    assert r.relevance.shape == (1, 3, 64, 64) and r.warnings == ()
    assert r.layer_relevance.shape == (1, 64, 8, 8) and r.channel_relevance.shape == (1, 64)
    assert float(r.score) == pytest.approx(float(model(data.images[:1]).detach().max()), rel=1e-5)
    assert r.describe().startswith("relevance sums to ") and r.describe().endswith("% of the logit")
