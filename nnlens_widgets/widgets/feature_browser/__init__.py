"""``FeatureBrowser``: a page per sparse-autoencoder feature (see ``browser``)."""
from .browser import FACTS_FILE, FeatureBrowser

__all__ = ["FeatureBrowser", "FACTS_FILE"]
