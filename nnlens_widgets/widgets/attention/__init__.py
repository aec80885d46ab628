"""The AttentionExplorer: where a vision transformer's tokens attend."""
from .widget import AttentionExplorer

__all__ = ["AttentionExplorer"]
