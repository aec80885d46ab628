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

__version__ = "0.1.0"
__all__ = ["ConceptExplorer", "FeatureVisualizer", "DirectionExplorer", "PlaneView", "SynapseExplorer", "NeuronAblation", "TextNeuronViewer", "ActivationGrid", "FilterGrid", "OcclusionExplorer", "SaliencyExplorer", "core", "render", "zoo"]
