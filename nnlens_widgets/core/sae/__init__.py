"""Sparse autoencoders over a layer's positions: training, reading features, switching them off."""
from .autoencoder import SAEStats, SparseAutoencoder, TopK, measure
from .positions import LayerPositions, positions_of
from .training import train_sae

__all__ = ["SAEStats", "SparseAutoencoder", "TopK", "measure", "LayerPositions", "positions_of", "train_sae"]
