"""The FeatureVisualizer: what one channel wants, an optimised picture beside its top data images."""
from .widget import FeatureVisualizer

__all__ = ["FeatureVisualizer"]
