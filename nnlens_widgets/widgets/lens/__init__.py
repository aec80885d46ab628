"""The Lens: one model, one input, every view of it linked."""
from .widget import Lens

__all__ = ["Lens"]
