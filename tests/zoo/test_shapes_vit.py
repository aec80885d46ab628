"""The shipped shapes ViT: loads from plain float16 tensors, classifies held-out shapes,
and its attention and token grid are what the core expects."""
import pytest
import torch
import torchvision

import nnlens_widgets as nl
from nnlens_widgets.core import ModelSnapshot, TokenGrid, hook_count
from nnlens_widgets.zoo import ShapesViT, make_shapes, shapes_vit
from nnlens_widgets.zoo.shapes import accuracy
from nnlens_widgets.zoo.shapes_vit import VIT_CONFIG, VIT_WEIGHTS_PATH


@pytest.fixture(scope="module")
def model():
    return shapes_vit()


def test_shipped_model_accuracy_on_held_out_images(model):
    held_out = make_shapes(400, seed=777)  # neither the training nor the test seeds
    assert not model.training
    acc = accuracy(model, held_out.images, held_out.labels)
    print(f"shipped shapes ViT accuracy on 400 held-out images: {acc:.4f}")
    assert acc >= 0.95


def test_weights_file_is_a_small_float16_state_dict():
    assert VIT_WEIGHTS_PATH.stat().st_size < 5 * 1024 * 1024
    state = torch.load(VIT_WEIGHTS_PATH, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values())
    fresh = ShapesViT()
    assert set(state) == set(fresh.state_dict())
    assert all(p.dtype == torch.float32 for p in shapes_vit().parameters())


def test_architecture_and_random_init():
    m = shapes_vit(pretrained=False)
    assert isinstance(m, torchvision.models.VisionTransformer) and not m.training
    assert (VIT_CONFIG["image_size"], VIT_CONFIG["patch_size"]) == (64, 8)
    assert nl.core.token_grid(m) == TokenGrid(8, 8, 1)
    assert m(torch.rand(2, 3, 64, 64)).shape == (2, 5)


def test_attention_and_maps_on_the_shipped_model(model):
    x = make_shapes(1, seed=5).images[0]
    snap = ModelSnapshot.of(model)
    maps = nl.core.attention_maps(model, x)
    assert len(maps) == VIT_CONFIG["num_layers"]
    assert all(a.shape == (VIT_CONFIG["num_heads"], 65, 65) for a in maps.values())
    assert nl.core.attention_rollout(model, x).patch_map.shape == (1, 1, 8, 8)
    assert nl.core.grad_cam(model, x).layer == "encoder.layers.encoder_layer_3.ln_1"
    assert ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0
