"""Pure-torch machinery behind every widget; usable headless, never imports ipywidgets."""
from .activations import ActivationCache, channel_stats
from .guard import ModelSnapshot, add_hook, check_model, evaluating, hook_count, hooked, looking_at, twin_of
from .inputs import to_batch
from .occlusion import OcclusionFrame, OcclusionGrid, make_baseline, occlusion, occlusion_stream
from .probe import Activations, LayerInfo, forward_capture, get_module, layers, probe
from .ablation import AblationEffects, ablate, ablation_effects, channel_means
from .text_neurons import (
    BUILTIN_PREDICATES, CellMatch, TextStates, cell_correlations, code_predicates, lstm_states,
    predicate_neurons,
)
from . import featurevis
from .featurevis import VisStep, feature_vis, optimize_image
from .top_examples import TopExamples, activating_region, load_top_examples, random_direction, top_examples
from . import attribution, metrics
from .concept_whitening import (
    ConceptWhitening, RotationStep, axis_scores, cayley_step, concept_layers, newton_whitening, replace_batchnorm,
)
from .concept_training import ConceptTraining, train_concept_whitening, whitened_concepts
from .concept_purity import ConceptAUC, Purity, auc, best_channels, concept_auc, concept_purity, layer_scores
from .synapses import (
    Neuron, Ranking, Sensitivity, Synapse, SynapseSpace, check_plane_model, hidden_neurons,
    plane_neuron_maps, plane_outputs, plane_points, synapse_table,
)
from .tokens import TokenGrid, TokenMaps, token_grid, token_maps
from .attention_layers import attention_layers
from .attention import attention_maps, attention_rollout, relevance_matrix, rollout_matrix, transformer_attribution
from .pointing import pointing_game, pointing_hit
from .attribution import (
    CAM, METHODS, Captum, CamMaps, GradCAM, GradCAMPlusPlus, HiResCAM, LimeResult, PatchMap, UnitTarget,
    deconvnet, gradient, grad_cam, guided_backprop, guided_grad_cam, input_x_gradient,
    integrated_gradients, lime, pixel_map, relu_rule, smoothgrad,
)

__all__ = [
    "TokenGrid",
    "TokenMaps",
    "token_grid",
    "token_maps",
    "attention_layers",
    "attention_maps",
    "attention_rollout",
    "relevance_matrix",
    "rollout_matrix",
    "transformer_attribution",
    "PatchMap",
    "pointing_game",
    "pointing_hit",
    "ConceptWhitening",
    "RotationStep",
    "axis_scores",
    "cayley_step",
    "concept_layers",
    "newton_whitening",
    "replace_batchnorm",
    "ConceptTraining",
    "train_concept_whitening",
    "whitened_concepts",
    "ConceptAUC",
    "Purity",
    "auc",
    "best_channels",
    "concept_auc",
    "concept_purity",
    "layer_scores",
    "Neuron",
    "Ranking",
    "Sensitivity",
    "Synapse",
    "SynapseSpace",
    "check_plane_model",
    "hidden_neurons",
    "plane_neuron_maps",
    "plane_outputs",
    "plane_points",
    "synapse_table",
    "AblationEffects",
    "ablate",
    "ablation_effects",
    "channel_means",
    "BUILTIN_PREDICATES",
    "CellMatch",
    "TextStates",
    "cell_correlations",
    "code_predicates",
    "lstm_states",
    "predicate_neurons",
    "featurevis",
    "VisStep",
    "feature_vis",
    "optimize_image",
    "TopExamples",
    "activating_region",
    "load_top_examples",
    "random_direction",
    "top_examples",
    "attribution",
    "metrics",
    "CAM",
    "METHODS",
    "Captum",
    "CamMaps",
    "GradCAM",
    "GradCAMPlusPlus",
    "HiResCAM",
    "LimeResult",
    "UnitTarget",
    "deconvnet",
    "gradient",
    "grad_cam",
    "guided_backprop",
    "guided_grad_cam",
    "input_x_gradient",
    "integrated_gradients",
    "lime",
    "pixel_map",
    "relu_rule",
    "smoothgrad",
    "OcclusionFrame",
    "OcclusionGrid",
    "make_baseline",
    "occlusion",
    "occlusion_stream",
    "ActivationCache",
    "channel_stats",
    "Activations",
    "LayerInfo",
    "ModelSnapshot",
    "evaluating",
    "add_hook",
    "check_model",
    "hooked",
    "looking_at",
    "twin_of",
    "forward_capture",
    "get_module",
    "hook_count",
    "layers",
    "probe",
    "to_batch",
]
