"""One method spec from core to widget: registration by module list, CAM variants as methods,
and each new CAM method equal to pytorch-grad-cam's."""
import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import nnlens_widgets as nl
from nnlens_widgets.core.attribution import (
    CAM, METHOD_MODULES, METHODS, CamMaps, MethodSpec, register_cam, register_method,
)
from nnlens_widgets.core.registry import Registry
from tests.core.attribution_models import single_thread  # noqa: F401 (fixture)
from tests.models import TinyNet, image

PACKAGE = Path(nl.__file__).parent


def _registering_modules():
    """Every module of the package whose code calls register_method or register_cam."""
    found = []
    for info in pkgutil.walk_packages([str(PACKAGE)], "nnlens_widgets."):
        path = PACKAGE.joinpath(*info.name.split(".")[1:])
        path = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
        tree = ast.parse(path.read_text())
        calls = {getattr(n.func, "id", getattr(n.func, "attr", None)) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        if calls & {"register_method", "register_cam"} and not info.name.endswith("attribution.registry"):
            found.append(info.name)
    return found


def test_every_module_that_registers_a_method_is_listed():
    found = _registering_modules()
    assert "nnlens_widgets.core.relevance.lrp" in found and "nnlens_widgets.core.attribution.cam" in found
    assert sorted(found) == sorted(METHOD_MODULES)


def test_methods_exist_whatever_was_imported_first():
    # a fresh interpreter that imports the registry alone: every method is there, in the listed order
    code = ("from nnlens_widgets.core.attribution.registry import METHODS\n"
            "import sys\n"
            "print(','.join(METHODS))\n"
            "print('nnlens_widgets.core.relevance.lrp' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True,
                         cwd=PACKAGE.parent).stdout.split()
    assert out[0].split(",") == list(METHODS)
    assert {"lrp", "hires_cam", "grad_cam_plus_plus", "lime"} <= set(out[0].split(",")) and out[1] == "True"
    # registration order follows the module list, not the import order
    rank = [METHOD_MODULES.index(METHODS[name].function.__module__) for name in METHODS]
    assert rank == sorted(rank)


def test_a_registry_loads_its_sources_once_before_the_first_read(tmp_path, monkeypatch):
    (tmp_path / "toy_source_a.py").write_text(
        "from tests.core.test_method_registry import TOY\nTOY.add('a', 1)\nTOY.add('late', len(TOY))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    TOY.add("early", 0)  # registered before the registry was read: listed after its sources' specs
    assert "toy_source_a" not in sys.modules
    assert TOY.names() == ["a", "late", "early"]
    assert TOY["late"] == 2  # a source reading the registry while it loads sees what is there so far ("early", "a")
    with pytest.raises(ValueError, match="did you mean 'late'"):
        TOY["lat"]


TOY: Registry[int] = Registry("toy", ("toy_source_a",), origin=lambda spec: "toy_source_a" if spec else "")


def test_specs_declare_layers_and_pixel_maps():
    spec = METHODS["hires_cam"]
    assert spec.takes_layer and not METHODS["gradient"].takes_layer and not METHODS["lrp"].takes_layer
    assert spec.title == "HiResCAM" and METHODS["grad_cam_plus_plus"].title == "Grad-CAM++"
    assert spec.call_kwargs({"relu": False}, "conv2") == {"relu": False, "layer": "conv2"}
    assert METHODS["gradient"].call_kwargs({}, "conv2") == {}
    model, x = TinyNet().eval(), image(h=16, w=16)
    maps = spec.function(model, x, 1, layer="conv2")
    assert isinstance(maps, CamMaps) and maps.layer == "conv2"
    torch.testing.assert_close(spec.pixels(maps), maps.upsampled)
    relevance = METHODS["lrp"].function(model, x, 1)
    torch.testing.assert_close(METHODS["lrp"].pixels(relevance), relevance.relevance)


class MaxCAM(CAM):
    """A toy variant: each position's largest gradient-weighted channel."""

    def combine(self, acts, grads):
        return (grads * acts).amax(1, keepdim=True)


def test_registering_a_cam_subclass_makes_a_method_the_explorer_offers():
    fn = register_cam(MaxCAM, "max_cam", "Max-CAM")
    try:
        assert METHODS["max_cam"].takes_layer and METHODS["max_cam"].function is fn
        model, x = TinyNet().eval(), image(h=16, w=16)
        with MaxCAM(model, "conv2") as cam:
            torch.testing.assert_close(fn(model, x, 2, layer="conv2").layer_map, cam(x, 2).layer_map)
        w = nl.SaliencyExplorer(model, x, methods=["max_cam"])
        assert w.wait(60) and w.error is None
        assert w.controls["methods.max_cam"].description == "Max-CAM"
        torch.testing.assert_close(w.maps["max_cam"], fn(model, x, w.target).upsampled)
        w.close()
    finally:
        METHODS.remove("max_cam")
    with pytest.raises(ValueError, match="subclass of CAM"):
        register_cam(nn.Module, "not_a_cam", "no")  # type: ignore[arg-type]


def test_new_cams_appear_in_the_saliency_chooser_and_explain_a_channel_at_its_layer():
    model, x = TinyNet().eval(), image(h=16, w=16)
    w = nl.SaliencyExplorer(model, x, methods=["grad_cam_plus_plus", "hires_cam"])
    assert w.wait(60) and w.error is None
    assert w.controls["methods.grad_cam_plus_plus"].description == "Grad-CAM++"
    assert w.controls["methods.hires_cam"].description == "HiResCAM"
    t = w.target
    torch.testing.assert_close(w.maps["hires_cam"], nl.core.hires_cam(model, x, t).upsampled)
    w.target_mode = "channel"
    w.layer, w.channel = "conv1", 2
    assert w.wait(60) and w.error is None
    for name in ("grad_cam_plus_plus", "hires_cam"):
        want = METHODS[name].function(model, x, ("conv1", 2), layer="conv1").upsampled
        torch.testing.assert_close(w.maps[name], want)
    w.close()


def test_a_user_spec_or_pair_joins_the_offer():
    model, x = TinyNet().eval(), image(h=16, w=16)

    def doubled(model, x, target=None):
        return 2 * nl.core.gradient(model, x, target)

    spec = MethodSpec("twice", "Twice the gradient", doubled)
    w = nl.SaliencyExplorer(model, x, methods=[spec, ("Doubled", doubled)])
    assert w.wait(60) and w.error is None
    assert w.controls["methods.twice"].description == "Twice the gradient"
    torch.testing.assert_close(w.maps["twice"], w.maps["Doubled"])
    w.close()
    with pytest.raises(ValueError, match="already registered"):
        nl.SaliencyExplorer(model, x, methods=[MethodSpec("gradient", "mine", doubled)])


def _seeded_resnet(seed: int) -> nn.Module:
    """A random ResNet-18 from our own generator (He-initialised convolutions)."""
    g = torch.Generator().manual_seed(seed)
    model = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, generator=g)
                if m.bias is not None:
                    m.bias.zero_()
    return model


def _pgc_scaled(low, size):
    """pytorch-grad-cam's presentation of a map: min-max scale, OpenCV resize, scale again."""
    import cv2

    def scale(m):
        m = m - m.min()
        return m / (1e-7 + m.max())

    return scale(cv2.resize(scale(low).astype(np.float32), (size, size)))


@pytest.mark.parametrize("name, reference", [("grad_cam_plus_plus", "GradCAMPlusPlus"), ("hires_cam", "HiResCAM")])
def test_registered_cam_methods_match_pytorch_grad_cam(name, reference):
    import pytorch_grad_cam

    model = _seeded_resnet(3)
    x = torch.randn((1, 3, 96, 96), generator=torch.Generator().manual_seed(4))
    # a scaled score keeps pytorch-grad-cam's eps (1e-6 in Grad-CAM++'s denominator) negligible
    scale = 1e3 if name == "grad_cam_plus_plus" else 1.0
    mine = METHODS[name].function(model, x, lambda out: scale * out[:, 5], layer="layer3")
    with getattr(pytorch_grad_cam, reference)(model=model, target_layers=[model.layer3]) as cam:
        ref = cam(input_tensor=x, targets=[lambda out: scale * out[5]])[0]
    ours = _pgc_scaled(mine.layer_map[0, 0].numpy(), 96)
    assert float(ref.max()) == pytest.approx(1.0, abs=1e-5)  # a map with something in it
    difference = float(np.abs(ours - ref).max())
    print(f"{name}: max |ours - pytorch-grad-cam| = {difference:.2e} (maps scaled to 0..1)")
    assert difference < (1e-4 if name == "grad_cam_plus_plus" else 1e-5)


def test_register_method_keeps_the_function_and_declares_its_spec():
    def toy(model, x, target=None, layer=None):
        return x

    assert register_method("toy_layered", "Toy", takes_layer=True)(toy) is toy
    try:
        assert METHODS["toy_layered"].takes_layer and list(METHODS)[-1] == "toy_layered"
    finally:
        METHODS.remove("toy_layered")
