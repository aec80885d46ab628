"""Run the scan command: under torchrun (one CPU thread per rank), or in this process."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from nnlens_widgets.core.top_examples import _FIELDS
from nnlens_widgets.scan.distributed import ScanGroup

ROOT = Path(__file__).resolve().parents[2]
MODEL = "tests.scan.callables:digits_model"
DATA = "tests.scan.callables:digits_test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args, nproc: int = 2, env=None, timeout: float = 240) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=nproc -m nnlens_widgets.scan ARGS`` (gloo, CPU) from the repository root."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "nnlens_widgets.scan", *map(str, args)]
    path = os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NNLENS_TEST_")}
    full_env.update(OMP_NUM_THREADS="1", PYTHONPATH=path, CUDA_VISIBLE_DEVICES="", **(env or {}))
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_same_top_examples(a, b) -> None:
    """Bit-identical results: same indices, values (float equality) and locations."""
    assert (a.layer, a.units, a.k, a.count, tuple(a.layer_shape)) == (b.layer, b.units, b.k, b.count,
                                                                      tuple(b.layer_shape))
    for name in _FIELDS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name


class LoopbackGroup(ScanGroup):
    """Rank ``rank`` of ``world_size`` run one after another in this process (rank 0 last).

    Ranks above 0 leave their partial result in ``inbox``; rank 0 gathers it
    from there, as ``torch.distributed.gather_object`` would hand it over.
    """

    def __init__(self, rank: int, world_size: int, inbox: list):
        super().__init__(rank, world_size, 0, torch.device("cpu"), False)
        self.inbox = inbox

    def all_gather(self, obj):
        """The ranks run one after another here: each sees the others as agreeing with it."""
        return [obj] * self.world_size

    def gather_to_first(self, obj):
        if self.rank:
            self.inbox[self.rank] = obj
            return None
        return [obj] + self.inbox[1:]


def run_ranks_in_process(argv, world_size: int, monkeypatch) -> int:
    """``main(argv)`` once per rank of a ``world_size`` job, sharing results through a LoopbackGroup."""
    from nnlens_widgets.scan import cli

    inbox = [None] * world_size
    for rank in list(range(1, world_size)) + [0]:
        monkeypatch.setattr(cli.ScanGroup, "start", classmethod(lambda cls, _d, r=rank: LoopbackGroup(r, world_size, inbox)))
        status = cli.main([str(a) for a in argv])
        if status:
            return status
    return 0
