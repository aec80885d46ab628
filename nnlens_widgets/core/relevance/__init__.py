"""Relevance: layer-wise relevance propagation (LRP) on CNNs and vision transformers, and
concept-conditional relevance (CRP) for the channels of a layer."""
from .lrp import Relevance, lrp, lrp_epsilon
from .concepts import ChannelRelevance, ConceptRelevance, channel_relevance, crp

__all__ = ["Relevance", "lrp", "lrp_epsilon", "ChannelRelevance", "ConceptRelevance", "channel_relevance", "crp"]
