"""The README's "write your own widget" example runs as printed and keeps the contract."""
import gc
import re
import weakref
from pathlib import Path

import pytest
import torch

from nnlens_widgets.core import ModelSnapshot, hook_count
from tests.models import TinyNet

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_widget_class():
    section = README.read_text().split("## Write your own widget", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["ChannelView"]


def test_the_readme_widget_draws_validates_and_closes():
    ChannelView = readme_widget_class()
    model = TinyNet().train()
    snap = ModelSnapshot.of(model)
    x = torch.rand(3, 32, 32)
    w = ChannelView(model, x, layer="conv2")
    assert w.wait(60) and w.error is None
    first = w.views["picture"].frame.copy()
    w.channel = 3
    assert w.wait(60) and w.views["picture"].frame is not None
    assert (w.views["picture"].frame != first).any()
    with pytest.raises(Exception, match="channel in 0..5"):
        w.channel = 6
    assert w.channel == 3
    assert model.training and ModelSnapshot.of(model).differences(snap) == {} and hook_count(model) == 0
    ref = weakref.ref(w)
    w.close()
    del w
    gc.collect()
    assert ref() is None
