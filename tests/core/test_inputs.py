import numpy as np
import pytest
import torch
from PIL import Image

from nnlens_widgets.core import to_batch
from tests.models import TinyNet


def test_chw_tensor_gets_batch_axis_and_is_a_copy():
    model = TinyNet()
    x = torch.rand(3, 8, 8)
    b = to_batch(x, model)
    assert b.shape == (1, 3, 8, 8)
    b += 1
    assert torch.all(x < 1)  # the caller's tensor is untouched


def test_uint8_numpy_image_scaled_to_unit_range():
    a = np.zeros((5, 6, 3), dtype=np.uint8)
    a[0, 0] = (255, 0, 51)
    b = to_batch(a, TinyNet())
    assert b.shape == (1, 3, 5, 6)
    assert b[0, :, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])


def test_pil_image_and_grayscale_numpy():
    pil = Image.fromarray(np.full((4, 4, 3), 128, dtype=np.uint8))
    assert to_batch(pil, TinyNet()).shape == (1, 3, 4, 4)
    assert to_batch(np.ones((4, 4), dtype=np.float32), TinyNet(in_ch=1)).shape == (1, 1, 4, 4)


def test_preprocess_applied_first():
    b = to_batch(np.zeros((4, 4, 3), np.uint8), TinyNet(), preprocess=lambda a: a + 255)
    assert float(b.min()) == 1.0


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(1, 8, 8), "expected 3 input channel"),
        (torch.rand(2, 3, 8, 8), "expected one input shaped"),
        (torch.rand(8, 8), "expected one input shaped"),
        (torch.tensor([[[[float("nan")]]]]).expand(1, 3, 2, 2), "finite"),
        ("a string", "expected the input as a torch tensor"),
    ],
)
def test_bad_inputs_name_what_was_expected(x, message):
    with pytest.raises(ValueError, match=message):
        to_batch(x, TinyNet())


def test_non_image_model_gets_batch_axis():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    assert to_batch(torch.tensor([0.5, -0.5]), model).shape == (1, 2)
    ids = to_batch(torch.tensor([1, 2, 3]), torch.nn.Sequential(torch.nn.Embedding(5, 2)))
    assert ids.dtype == torch.int64 and ids.shape == (1, 3)
