"""The process group a scan runs in: one plain process, or a rank of a ``torchrun`` job.

``torchrun`` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT;
we join its group with gloo on CPUs and NCCL (plus gloo for CPU objects) on
GPUs. The ranks exchange only small messages: at the start, whether each
may go on (``all_gather``), and the partial results at the end
(``gather_to_first``), so rank 0 can merge them without a shared file
system between machines.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, List, Optional, Tuple

import torch
import torch.distributed as dist

__all__ = ["ScanGroup", "shard_range", "pick_device", "backend_for"]

# Ranks wait for the slowest one only at the end; after a resume one rank may
# have finished long before another, so the wait must outlast a whole shard.
# A rank that dies does not leave the others waiting this long: torchrun
# stops every worker as soon as one fails.
_WAIT = timedelta(hours=72)
_STOP_GRACE = timedelta(seconds=30)


def shard_range(n: int, batch_size: int, rank: int, world_size: int) -> Tuple[int, int]:
    """Rank ``rank``'s images ``[start, end)``: whole batches, contiguous, as even as batches allow.

    Whole batches of the global order keep every batch exactly as one
    process would form it, so activations (and results) are bitwise equal.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"expected a rank in 0..{world_size - 1}, got {rank}")
    batches = math.ceil(n / batch_size)
    first, last = rank * batches // world_size, (rank + 1) * batches // world_size
    return min(n, first * batch_size), min(n, last * batch_size)


def pick_device(choice: str, local_rank: int) -> torch.device:
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("expected --device auto or cpu: CUDA is not available here")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if choice == "cpu":
        return torch.device("cpu")
    raise ValueError(f"expected --device auto, cpu or cuda, got {choice!r}")


def backend_for(device: torch.device) -> str:
    """gloo on CPUs; on GPUs NCCL for CUDA tensors and gloo for the CPU objects we gather."""
    return "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"


def _launched_by_torchrun() -> bool:
    return all(v in os.environ for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


@dataclass
class ScanGroup:
    """This process's place in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    joined: bool  # True when a torch.distributed group was initialised

    @classmethod
    def start(cls, device_choice: str = "auto") -> "ScanGroup":
        """Join torchrun's group when launched by it; otherwise a group of one (no torch.distributed)."""
        if not _launched_by_torchrun():
            return cls(0, 1, 0, pick_device(device_choice, 0), False)
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = pick_device(device_choice, local)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        # no device_id: NCCL starts lazily, only if a CUDA tensor is ever exchanged (results travel on
        # the CPU through gloo), so ranks may share a GPU
        dist.init_process_group(backend_for(device), timeout=_WAIT)
        return cls(rank, world, local, device, True)

    @property
    def backend(self) -> str:
        return dist.get_backend() if self.joined else "none"

    def gather_to_first(self, obj: Any) -> Optional[List[Any]]:
        """Every rank's ``obj`` on rank 0 (in rank order); None on the other ranks."""
        if not self.joined:
            return [obj]
        out = [None] * self.world_size if self.rank == 0 else None
        try:
            dist.gather_object(obj, out, dst=0)
        except RuntimeError as e:  # the group broke: a peer process is gone
            # torchrun reports the earliest failure (to the second) as the job's root cause; a rank that
            # only saw a peer vanish gives the launcher time to stop it, so the peer's own error is the
            # one reported, and fails by itself only if nobody stops it
            time.sleep(_STOP_GRACE.total_seconds())
            raise RuntimeError(f"rank {self.rank}: another rank failed while the results were gathered ({e}); "
                               "that rank's error is the cause") from e
        return out

    def all_gather(self, obj: Any) -> List[Any]:
        """Every rank's ``obj`` on every rank (in rank order); also a barrier."""
        if not self.joined:
            return [obj]
        out: List[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.joined and dist.is_initialized():
            dist.destroy_process_group()
