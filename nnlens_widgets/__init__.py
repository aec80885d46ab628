"""nnlens_widgets: Jupyter widgets that open up a PyTorch model inside the notebook.

>>> import nnlens_widgets as nl
>>> nl.ActivationGrid(model, image)
"""
from . import core, render, zoo
from .widgets import SaliencyExplorer
from .widgets import ActivationGrid, FilterGrid, OcclusionExplorer
from .widgets import NeuronAblation, TextNeuronViewer
from .widgets import PlaneView, SynapseExplorer
from .widgets import DirectionExplorer, FeatureVisualizer
from .widgets import ConceptExplorer
from .widgets import link

try:  # the version lives in pyproject.toml only
    from importlib.metadata import PackageNotFoundError, version as _version

    __version__ = _version("nnlens_widgets")
except PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
    __version__ = "0+unknown"
__all__ = ["link", "ConceptExplorer", "FeatureVisualizer", "DirectionExplorer", "PlaneView", "SynapseExplorer", "NeuronAblation", "TextNeuronViewer", "ActivationGrid", "FilterGrid", "OcclusionExplorer", "SaliencyExplorer", "core", "render", "zoo"]
