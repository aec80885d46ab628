"""nnlens_widgets: Jupyter widgets that open up a PyTorch model inside the notebook.

>>> import nnlens_widgets as nl
>>> nl.ActivationGrid(model, image)

``import nnlens_widgets`` stays quick: the subpackages (``core``, ``render``,
``zoo``, ``widgets`` with ipywidgets) are imported on first use of
``nl.<name>``, and heavy libraries inside them (torchvision, scipy.stats,
scipy.ndimage, scikit-image) where a function needs them.
"""
from importlib import import_module as _import_module

from ._version import __version__ as __version__

_SUBPACKAGES = ("core", "render", "zoo", "widgets")
_WIDGETS = ("ConceptExplorer", "FeatureVisualizer", "FeatureBrowser", "DirectionExplorer", "PlaneView", "SynapseExplorer",
            "NeuronAblation", "TextNeuronViewer", "ActivationGrid", "AttentionExplorer", "FilterGrid",
            "OcclusionExplorer", "SaliencyExplorer", "Lens", "Playground", "link", "row", "column", "grid")
__all__ = [*_WIDGETS, "core", "render", "zoo"]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return _import_module(f".{name}", __name__)  # the import binds it here for next time
    if name in _WIDGETS:
        value = getattr(_import_module(".widgets", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
