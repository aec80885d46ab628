"""The SaliencyExplorer: pixel attribution maps side by side, with trust reports."""
from .widget import SaliencyExplorer

__all__ = ["SaliencyExplorer"]
