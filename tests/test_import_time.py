"""``import nnlens_widgets`` stays quick: heavy optional parts load on first use."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torchvision", "scipy", "skimage", "sklearn", "ipywidgets", "matplotlib", "captum", "lime")


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                          timeout=600).stdout


def test_import_takes_little_more_than_torch():
    code = ("import time; t = time.perf_counter(); import torch; u = time.perf_counter(); "
            "import nnlens_widgets; print(u - t, time.perf_counter() - u)")
    runs = [tuple(map(float, _run(code).split())) for _ in range(3)]
    torch_s, ours_s = min(r[0] for r in runs), min(r[1] for r in runs)
    print(f"import torch {torch_s:.2f} s, then import nnlens_widgets {ours_s:.3f} s")
    assert ours_s < 1.5  # generous: the machine may be loaded


def test_heavy_libraries_load_only_when_used():
    code = ("import sys, torch; before = set(sys.modules); import nnlens_widgets as nl; nl.core; nl.render; nl.zoo; "
            "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))")
    loaded = set(_run(code).split())
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)
    code = ("import nnlens_widgets as nl, sys; print(nl.ActivationGrid.__name__, nl.core.occlusion.__name__, "
            "'ipywidgets' in sys.modules, nl.widgets.OcclusionExplorer is nl.OcclusionExplorer)")
    assert _run(code).split() == ["ActivationGrid", "occlusion", "True", "True"]
    code = "import nnlens_widgets as nl\ntry:\n    nl.Nothing\nexcept AttributeError as e:\n    print(e)"
    assert "has no attribute 'Nothing'" in _run(code)
