"""``main(argv)``: parse, join the process group, run the job; mistakes exit 2 with one line."""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from .arguments import ScanError, build_parser
from .distributed import ScanGroup
from .feature_facts_job import run_feature_facts
from .metrics_job import run_metrics
from .top_examples_job import run_top_examples

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``python -m nnlens_widgets.scan`` with ``argv``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)  # bad options: usage and exit status 2
    jobs = {"top-examples": run_top_examples, "metrics": run_metrics}
    group = None
    try:
        try:
            group = ScanGroup.start(args.device)
        except ValueError as e:
            raise ScanError(str(e)) from None
        if args.job == "top-examples" and args.sae is not None:
            return run_feature_facts(args, group)
        return jobs[args.job](args, group)
    except ScanError as e:
        where = f"[rank {group.rank}/{group.world_size}] " if group is not None and group.joined else ""
        print(f"{parser.prog} {args.job}: error: {where}{e}", file=sys.stderr, flush=True)
        return 2
    finally:
        if group is not None:
            group.close()
