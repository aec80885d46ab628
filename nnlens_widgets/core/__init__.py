"""Pure-torch machinery behind every widget; usable headless, never imports ipywidgets."""
from .activations import ActivationCache, channel_stats
from .guard import ModelSnapshot, add_hook, check_model, hook_count, hooked, looking_at, twin_of
from .inputs import to_batch
from .predictions import check_class_scores, class_probabilities
from .baselines import BASELINES, BaselineSpec, make_baseline, register_baseline
from .occlusion import OcclusionFrame, OcclusionGrid, occlusion, occlusion_stream
from .incremental import prepare_incremental
from .probe import Activations, LayerInfo, forward_capture, get_module, layers, probe
from .ablation import AblationEffects, Ablated, ablate, ablation_effects, channel_means
from .text_neurons import TextStates, lstm_states, recurrent_layers, recurrent_module
from .text_predicates import BUILTIN_PREDICATES, CellMatch, cell_correlations, code_predicates, predicate_neurons
from . import featurevis
from .featurevis import OBJECTIVES, VisStep, axis_response, feature_vis, objective_values, optimize_image
from .top_examples import (
    TopExamples, activating_region, inputs_of, load_top_examples, random_direction, top_examples,
)
from . import attribution, memory, metrics
from .metric_scores import MetricScores, MetricSummary, load_metric_scores, metric_scores
from . import concepts
from . import playground
from .concepts import (
    ConceptAUC, ConceptTraining, ConceptWhitening, Purity, RotationStep, auc, axis_scores, best_channels,
    cayley_step, concept_auc, concept_purity, concept_layers, layer_scores, newton_whitening, replace_batchnorm,
    train_concept_whitening, whitened_concepts,
)
from .plane import DEFAULT_EXTENT, check_extent, check_plane_model, plane_outputs, plane_points
from .synapses import Neuron, Synapse, hidden_neurons, plane_neuron_maps, synapse_table
from .synapse_ranking import Ranking, Sensitivity
from .synapse_space import Pictures, SynapseSpace
from .synapse_edits import SynapseEdits
from .synapse_training import TrainingStep, fit_synapses, pair_landscape, picture_rmse, picture_values
from .pictures import SAMPLE_PICTURES, load_picture
from .tokens import TokenGrid, TokenMaps, token_grid, token_maps
from .attention_layers import attention_layers
from .attention_stats import attention_entropy
from .attention import attention_maps, attention_rollout, relevance_matrix, rollout_matrix, transformer_attribution
from .pointing import pointing_game, pointing_hit
from . import sae
from .sae import (
    FeatureFacts, SAEAblated, SAEStats, SparseAutoencoder, feature_channels, feature_facts, feature_gradient,
    feature_map, load_sae, sae_ablate, train_sae,
)
from .fingerprints import weights_hash
from .relevance import ChannelRelevance, ConceptRelevance, Relevance, channel_relevance, crp, lrp, lrp_epsilon
from .dead_units import ConstantChannels, constant_channels
from .featurevis.sanity import FeatureVisSanity, featurevis_sanity
from .trust import (
    CONVENTIONS, FAITHFULNESS_METRICS, BlurConfound, EfficientMPRT, FaithfulnessResult, MetricSanity, blur_confound,
    efficient_mprt, faithfulness, low_target_caveat, metric_sanity,
)
from .attribution import (
    CAM, METHODS, Captum, CamMaps, GradCAM, GradCAMPlusPlus, HiResCAM, LimeResult, PatchMap, UnitTarget,
    deconvnet, gradient, grad_cam, guided_backprop, guided_grad_cam, input_x_gradient,
    integrated_gradients, lime, pixel_map, relu_rule, smoothgrad,
)

__all__ = [
    "sae",
    "FeatureFacts",
    "SAEAblated",
    "SAEStats",
    "SparseAutoencoder",
    "feature_channels",
    "feature_facts",
    "feature_gradient",
    "feature_map",
    "load_sae",
    "sae_ablate",
    "train_sae",
    "weights_hash",
    "ChannelRelevance",
    "ConceptRelevance",
    "Relevance",
    "channel_relevance",
    "crp",
    "lrp",
    "lrp_epsilon",
    "CONVENTIONS",
    "FAITHFULNESS_METRICS",
    "BlurConfound",
    "ConstantChannels",
    "EfficientMPRT",
    "FaithfulnessResult",
    "FeatureVisSanity",
    "MetricSanity",
    "blur_confound",
    "constant_channels",
    "efficient_mprt",
    "faithfulness",
    "featurevis_sanity",
    "low_target_caveat",
    "metric_sanity",
    "prepare_incremental",
    "concepts",
    "playground",
    "TokenGrid",
    "TokenMaps",
    "token_grid",
    "token_maps",
    "attention_layers",
    "attention_maps",
    "attention_entropy",
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
    "DEFAULT_EXTENT",
    "check_extent",
    "SAMPLE_PICTURES",
    "load_picture",
    "TrainingStep",
    "fit_synapses",
    "pair_landscape",
    "picture_rmse",
    "picture_values",
    "Neuron",
    "Ranking",
    "Sensitivity",
    "Synapse",
    "SynapseSpace",
    "Pictures",
    "SynapseEdits",
    "check_plane_model",
    "hidden_neurons",
    "plane_neuron_maps",
    "plane_outputs",
    "plane_points",
    "synapse_table",
    "AblationEffects",
    "Ablated",
    "ablate",
    "ablation_effects",
    "channel_means",
    "BUILTIN_PREDICATES",
    "CellMatch",
    "TextStates",
    "cell_correlations",
    "code_predicates",
    "lstm_states",
    "recurrent_layers",
    "recurrent_module",
    "predicate_neurons",
    "featurevis",
    "OBJECTIVES",
    "VisStep",
    "objective_values",
    "axis_response",
    "feature_vis",
    "optimize_image",
    "TopExamples",
    "activating_region",
    "inputs_of",
    "load_top_examples",
    "random_direction",
    "top_examples",
    "attribution",
    "metrics",
    "memory",
    "MetricScores",
    "MetricSummary",
    "load_metric_scores",
    "metric_scores",
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
    "BASELINES",
    "BaselineSpec",
    "register_baseline",
    "occlusion",
    "occlusion_stream",
    "ActivationCache",
    "channel_stats",
    "Activations",
    "LayerInfo",
    "ModelSnapshot",
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
    "class_probabilities",
    "check_class_scores",
]
