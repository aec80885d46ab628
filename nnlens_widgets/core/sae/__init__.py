"""Sparse autoencoders over a layer's positions: training, per-feature facts, switching features off.

>>> sae = nl.core.train_sae(model, "relu4", images)          # a TopK SAE, trained on the CPU
>>> sae.stats.summary()                                      # held-out explained variance, L0, dead
>>> facts = nl.core.feature_facts(model, sae, test_images)   # top images, densities, class facts
>>> logits = nl.core.sae_ablate(model, sae, x, feature=12)   # the model without feature 12
"""
from .ablation import SAEAblated, sae_ablate
from .autoencoder import SAEStats, SparseAutoencoder, TopK, measure
from .facts import FACTS_FILE, DensityHistogram, FeatureFacts, load_feature_facts
from .feature_scan import feature_facts
from .files import load_sae, save_sae
from .inspect import ChannelWeights, FeatureGradient, feature_channels, feature_gradient, feature_map
from .positions import LayerPositions, positions_of
from .training import train_sae

__all__ = [
    "SAEAblated", "sae_ablate", "SAEStats", "SparseAutoencoder", "TopK", "measure", "DensityHistogram",
    "FeatureFacts", "FACTS_FILE", "load_feature_facts", "feature_facts", "load_sae", "save_sae", "ChannelWeights",
    "FeatureGradient", "feature_channels", "feature_gradient", "feature_map", "LayerPositions", "positions_of", "train_sae",
]
