"""ipywidgets classes: controls and canvases wired to core + render (no maths here)."""
from .activation_grid import ActivationGrid
from .attention.widget import AttentionExplorer
from .base import LensWidget
from .filter_grid import FilterGrid
from .frame_canvas import FrameCanvas
from .neuron_ablation import NeuronAblation
from .text_neurons import TextNeuronViewer, TextView
from .saliency.widget import SaliencyExplorer
from .occlusion_explorer import OcclusionExplorer
from .plane_view import PlaneView
from .synapse.widget import SynapseExplorer
from .feature_visualizer import FeatureVisualizer
from .feature_browser import FeatureBrowser
from .direction_explorer import DirectionExplorer
from .concept_explorer import ConceptExplorer
from .linking import link
from .lens.widget import Lens
from .playground import Playground
from .containers import column, grid, row

__all__ = ["row", "column", "grid", "link", "Lens", "Playground", "AttentionExplorer", "ConceptExplorer", "FeatureVisualizer", "FeatureBrowser", "DirectionExplorer", "PlaneView", "SynapseExplorer", "NeuronAblation", "TextNeuronViewer", "TextView", "ActivationGrid", "FilterGrid", "FrameCanvas", "LensWidget", "OcclusionExplorer", "SaliencyExplorer"]
