"""The SynapseExplorer: which weights of a 2-input network control which part of its painting."""
from .widget import SynapseExplorer

__all__ = ["SynapseExplorer"]
