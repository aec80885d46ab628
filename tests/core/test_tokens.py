"""Token grids: inferred from torchvision / timm / a patch convolution / the square rule,
split into maps, used by Grad-CAM (vs pytorch-grad-cam), unit targets and the activation
cache; Captum agrees with IG, occlusion and LIME on a ViT; clear errors."""
import numpy as np
import pytest
import torch
from captum import attr as captum_attr
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, TokenGrid, hook_count

from .attribution_models import single_thread  # noqa: F401 (fixture)
from .vit_models import image, tv_vit


class PatchMixer(nn.Module):
    """A patch convolution, 2 extra tokens in front, one attention layer, mean-pooled head."""

    def __init__(self, patch=4, dim=10, extra=2):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.extra = nn.Parameter(torch.randn(1, extra, dim))
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.extra.expand(len(t), -1, -1), t], 1)
        t = self.norm(t + self.attn(t, t, t, need_weights=False)[0])
        return self.head(t.mean(1))


class NoPatchConv(PatchMixer):
    """The same, but tokens from a 3x3 convolution with stride 4 (not a patch embedding)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 10, 3, stride=4, padding=1)


def test_grid_from_torchvision_timm_patch_conv_and_square_rule():
    assert nl.core.token_grid(tv_vit(0)) == TokenGrid(5, 5, 1)
    assert nl.core.token_grid(tv_vit(0), image(0), tokens=26) == TokenGrid(5, 5, 1)
    assert nl.core.token_grid(PatchMixer(), torch.rand(1, 3, 24, 32), tokens=50) == TokenGrid(6, 8, 2)
    # no patch embedding: the square rule (one attention layer, square image, 2 + 36 tokens)
    assert nl.core.token_grid(NoPatchConv(), torch.rand(1, 3, 24, 24), tokens=38) == TokenGrid(6, 6, 2)
    timm = pytest.importorskip("timm")
    model = timm.models.vision_transformer.VisionTransformer(img_size=48, patch_size=16, embed_dim=12, depth=1,
                                                             num_heads=2, reg_tokens=2)
    assert nl.core.token_grid(model, torch.rand(1, 3, 48, 48)) == TokenGrid(3, 3, 3)


def test_split_gives_feature_maps_and_prefix_tokens():
    g = TokenGrid(2, 3, 1)
    a = torch.arange(2 * 7 * 4, dtype=torch.float32).reshape(2, 7, 4)  # (N, 1 + 2*3, D=4)
    maps, prefix = g.split(a)
    assert maps.shape == (2, 4, 2, 3) and prefix.shape == (2, 1, 4)
    # patch token at row y, column x is token 1 + 3 y + x; feature d is its map
    for y in range(2):
        for x in range(3):
            torch.testing.assert_close(maps[1, :, y, x], a[1, 1 + 3 * y + x])
    torch.testing.assert_close(prefix[:, 0], a[:, 0])
    one = g.split(a[0])
    assert one.maps.shape == (4, 2, 3) and one.prefix.shape == (1, 4)
    m = nl.core.token_maps(tv_vit(0), torch.zeros(1, 26, 36))
    assert m.maps.shape == (1, 36, 5, 5) and m.prefix.shape == (1, 1, 36)


def test_explicit_grid_and_prefix():
    model = nn.Sequential(nn.Linear(4, 4))
    assert nl.core.token_grid(model, tokens=13, grid=(3, 4)) == TokenGrid(3, 4, 1)
    assert nl.core.token_grid(model, tokens=26, prefix=1) == TokenGrid(5, 5, 1)
    with pytest.raises(ValueError, match=r"pass grid=\(h, w\).*prefix=k"):
        nl.core.token_grid(model, tokens=26)
    with pytest.raises(ValueError, match="does not fit"):
        nl.core.token_grid(model, tokens=26, grid=(3, 4), prefix=0)


def test_bad_inputs_give_clear_errors():
    vit = tv_vit(0)
    with pytest.raises(ValueError, match=r"expected 40x40 images.*got 48x48"):
        nl.core.token_grid(vit, image(0, 48))
    with pytest.raises(ValueError, match=r"multiples of PatchMixer's patch size 4x4, got 26x24"):
        nl.core.token_grid(PatchMixer(), torch.rand(1, 3, 26, 24), tokens=41)
    with pytest.raises(ValueError, match="does not fit VisionTransformer's grid of 1 \\+ 5x5 tokens"):
        nl.core.token_grid(vit, image(0), tokens=30)
    with pytest.raises(ValueError, match="cannot infer the patch grid"):  # ambiguous: 17 = 1 + 16 = 8 + 9
        nl.core.token_grid(NoPatchConv(), tokens=17)
    with pytest.raises(ValueError, match="integer >= 1"):
        TokenGrid(0, 3)
    with pytest.raises(ValueError, match=r"\(N, 26, D\)"):
        TokenGrid(5, 5, 1).split(torch.zeros(1, 25, 3))
    with pytest.raises(ValueError, match=r"not a token grid: cannot infer.*pass grid=\(h, w\)"):
        nl.core.grad_cam(NoPatchConv(), torch.rand(1, 3, 20, 24), 0, layer="norm")  # 2 + 5x6 tokens, no rule
    with pytest.raises(ValueError, match="spatial extent"):
        nl.core.grad_cam(vit, image(0), 0, layer="heads.head")


# -- Grad-CAM on transformer blocks ------------------------------------------------------
def _corr(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def test_grad_cam_on_a_vit_block_matches_pytorch_grad_cam():
    from pytorch_grad_cam import GradCAM as PGC
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x = tv_vit(1, layers=3), image(1)
    layer = "encoder.layers.encoder_layer_2.ln_1"
    assert nl.core.attribution.default_cam_layer(model, x) == layer

    def reshape_transform(t, height=5, width=5):  # pytorch-grad-cam's documented ViT recipe
        result = t[:, 1:, :].reshape(t.size(0), height, width, t.size(2))
        return result.transpose(2, 3).transpose(1, 2)

    for target in (0, 3):
        for name in (layer, "encoder.layers.encoder_layer_1"):
            ours = nl.core.grad_cam(model, x, target, layer=name)
            module = nl.core.get_module(model, name)
            with PGC(model=model, target_layers=[module], reshape_transform=reshape_transform) as cam:
                ref = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]
            low = ours.layer_map[0, 0].numpy()
            assert low.shape == (5, 5) and low.max() > 0
            from .test_attribution import _pgc_scaled

            c = _corr(_pgc_scaled(low, 40), ref)
            print(f"Grad-CAM on {name}, class {target}: correlation with pytorch-grad-cam {c:.6f}")
            assert c > 0.99
    default = nl.core.grad_cam(model, x, 1)
    assert default.layer == layer and default.upsampled.shape == (1, 1, 40, 40)
    assert hook_count(model) == 0


def test_grad_cam_uses_the_split_maps_and_explicit_grids():
    model, x = PatchMixer(), torch.rand(1, 3, 16, 16)
    model.eval()
    cam = nl.core.grad_cam(model, x, 1, layer="norm", relu=False)
    with torch.enable_grad():
        seen = {}
        h = model.norm.register_forward_hook(lambda _m, _i, o: seen.setdefault("a", o))
        out = model(x)
        h.remove()
        (g,) = torch.autograd.grad(out[0, 1], seen["a"])
    a, g = seen["a"].detach()[0, 2:].T.reshape(10, 4, 4), g[0, 2:].T.reshape(10, 4, 4)
    expected = (g.mean((1, 2), keepdim=True) * a).sum(0)
    torch.testing.assert_close(cam.layer_map[0, 0], expected, rtol=1e-5, atol=1e-6)
    same = nl.core.grad_cam(model, x, 1, layer="norm", relu=False, grid=(4, 4), prefix=2)
    torch.testing.assert_close(same.layer_map, cam.layer_map)


def test_spatial_layers_list_token_layers_as_maps_and_unit_targets_read_them():
    model, x = tv_vit(2), image(2)
    found = dict(nl.core.attribution.spatial_layers(model, x))
    assert found["conv_proj"] == (1, 36, 5, 5)
    assert found["encoder.layers.encoder_layer_0"] == (1, 36, 5, 5)
    assert found["encoder.layers.encoder_layer_0.mlp.0"] == (1, 50, 5, 5)
    assert "heads.head" not in found
    # a unit target on a token layer: channel = feature, (y, x) = patch
    layer = "encoder.layers.encoder_layer_0"
    got = nl.core.gradient(model, x, (layer, 7, 2, 3))
    xr = x.clone().requires_grad_(True)
    with torch.enable_grad():
        seen = {}
        h = nl.core.get_module(model, layer).register_forward_hook(lambda _m, _i, o: seen.setdefault("a", o))
        model(xr)
        h.remove()
        seen["a"][0, 1 + 2 * 5 + 3, 7].backward()
    torch.testing.assert_close(got, xr.grad)


# -- the activation cache shows a block as maps -------------------------------------------
def test_activation_cache_gives_feature_maps_and_class_token():
    model, x = tv_vit(3), image(3)
    cache = nl.core.ActivationCache(model, x)
    block = "encoder.layers.encoder_layer_1"
    info = cache.info(block)
    assert info.grid == TokenGrid(5, 5, 1) and "1 + 5x5 tokens" in info.label()
    raw = cache[block]
    maps, cls = cache.maps(block), cache.prefix_tokens(block)
    assert maps.shape == (36, 5, 5) and cls.shape == (1, 36)
    torch.testing.assert_close(maps[4, 1, 2], raw[1 + 5 + 2, 4])
    torch.testing.assert_close(cls[0], raw[0])
    assert cache.maps("conv_proj").shape == (36, 5, 5) and cache.prefix_tokens("conv_proj") is None
    assert cache.info("heads.head").grid is None and cache.maps("heads.head").shape == (4,)


# -- the usual attribution methods on a ViT agree with Captum ----------------------------
def test_integrated_gradients_and_occlusion_on_a_vit_match_captum():
    model, x = tv_vit(4), image(4)
    snap = ModelSnapshot.of(model)
    ours = nl.core.integrated_gradients(model, x, 2, steps=16, batch_size=8)
    ref = captum_attr.IntegratedGradients(model).attribute(x, target=2, n_steps=16, method="gausslegendre",
                                                           internal_batch_size=8)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)
    occ = nl.core.occlusion(model, x, 1, 8, 4, baseline=0.0, batch_size=16)
    ref = captum_attr.Occlusion(model).attribute(x, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4),
                                                 target=1, baselines=0.0, perturbations_per_eval=16)[0]
    assert float((occ - ref).abs().max()) <= 1e-5 * max(float(ref.abs().max()), 1.0)
    assert ModelSnapshot.of(model).differences(snap) == {}


def test_lime_on_a_vit_matches_captum_lime_on_the_same_samples():
    from captum._utils.models.linear_model import SkLearnRidge

    model, x = tv_vit(5), image(5)
    blocks = np.arange(40)[:, None] // 10 * 4 + np.arange(40)[None, :] // 10  # 4x4 blocks of 10x10 px
    ours = nl.core.lime(model, x, 1, samples=200, segments=blocks, seed=2)
    n = ours.coefficients.size
    assert n == 16
    segments = torch.as_tensor(ours.segments)
    fill = torch.zeros_like(x)  # hidden superpixels show their mean colour, as ours do
    for s in range(n):
        fill[0][:, segments == s] = x[0][:, segments == s].mean(1, keepdim=True)

    def samples(_inputs, **_kw):
        for row in ours.data:
            yield torch.as_tensor(row, dtype=torch.long)[None]

    def kernel(_original, _perturbed, interpretable, **_kw):
        on = interpretable.double().sum()
        d = 1.0 - on / (on.sqrt().clamp(min=1e-150) * n ** 0.5) if on > 0 else torch.tensor(1.0)
        return float(torch.exp(-(d ** 2) / 0.25 ** 2).sqrt())

    lime = captum_attr.Lime(lambda b: torch.softmax(model(b), 1), interpretable_model=SkLearnRidge(alpha=1.0),
                            similarity_func=kernel, perturb_func=samples)
    ref = lime.attribute(x, target=1, feature_mask=segments[None, None], baselines=fill, n_samples=200,
                         perturbations_per_eval=50, return_input_shape=False)[0].numpy()
    np.testing.assert_allclose(ours.coefficients, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())
    assert hook_count(model) == 0
