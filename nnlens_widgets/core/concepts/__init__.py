"""Concept whitening (Chen, Bei & Rudin 2020): a layer whose axes are concepts.

- ``whitening``: the ``ConceptWhitening`` module (whitening + orthogonal
  rotation), Cayley steps, ``replace_batchnorm``;
- ``training``: fine-tuning a model around it while the rotation aligns axes
  with concepts;
- ``purity``: how well an axis (or a channel) picks out its concept (AUC);
- ``data``: checking and batching main-task and concept data.
"""
from .data import concept_tensors, main_batches
from .whitening import (
    ConceptWhitening, RotationStep, axis_scores, cayley_step, concept_layers, newton_whitening, replace_batchnorm,
)
from .training import ConceptTraining, train_concept_whitening, whitened_concepts
from .purity import ConceptAUC, Purity, auc, best_channels, concept_auc, concept_purity, layer_scores

__all__ = [
    "ConceptWhitening", "RotationStep", "axis_scores", "cayley_step", "concept_layers", "newton_whitening",
    "replace_batchnorm", "ConceptTraining", "train_concept_whitening", "whitened_concepts", "ConceptAUC",
    "Purity", "auc", "best_channels", "concept_auc", "concept_purity", "layer_scores", "concept_tensors",
    "main_batches",
]
