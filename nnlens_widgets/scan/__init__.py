"""Data set scans from the command line, on one process or sharded with torch.distributed.

``python -m nnlens_widgets.scan top-examples --model MOD:FN --data MOD:FN --layer L --out DIR``
``python -m nnlens_widgets.scan metrics --model MOD:FN --data MOD:FN --method M --metric deletion --out DIR``

Run either as is, or under ``torchrun --nproc_per_node=N`` (``--nnodes`` for
several machines): each rank scans a contiguous run of whole batches, writes
checkpoints to ``DIR/shards/``, and rank 0 merges the shards exactly into
the folder that ``nl.core.load_top_examples`` / ``nl.core.load_metric_scores``
read. Built on ``nl.core``; never imports the widgets.
"""
from .cli import main

__all__ = ["main"]
