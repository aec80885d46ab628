"""Ranks sharing one --out folder: none writes there before every rank has checked it.

Two ranks run as threads of this process, exchanging through a barrier as
``torch.distributed`` would. Rank 0 checks the folder only once rank 1 has
reached its first exchange with the others, and must find it as it was:
a rank that created the folder or its manifest before that exchange could
make it look foreign to another rank still checking (a half-written
manifest next to ``shards/``), whatever the timing.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, List

import torch
from torch.utils.data import Subset

import nnlens_widgets as nl
from nnlens_widgets.scan import cli
from nnlens_widgets.scan.distributed import ScanGroup
from nnlens_widgets.scan.folder import ScanFolder
from tests.scan.callables import digits_test
from tests.scan.launch import DATA, MODEL, assert_same_top_examples


class ThreadGroup(ScanGroup):
    """Rank ``rank`` of ranks running as threads; collectives meet at a barrier."""

    def __init__(self, rank: int, world_size: int, shared: Dict[str, Any]):
        super().__init__(rank, world_size, 0, torch.device("cpu"), False)
        self.shared = shared

    def _exchange(self, obj) -> List[Any]:
        slots = self.shared["slots"]
        slots[self.rank] = obj
        if self.rank == 1:
            self.shared["rank 1 exchanging"].set()
        self.shared["barrier"].wait(60)
        got = list(slots)
        self.shared["barrier"].wait(60)  # everyone has read before the slots are reused
        return got

    def all_gather(self, obj):
        return self._exchange(obj)

    def gather_to_first(self, obj):
        got = self._exchange(obj)
        return got if self.rank == 0 else None


def test_ranks_sharing_a_folder_check_it_before_any_writes(tmp_path, monkeypatch):
    shared = {"slots": [None, None], "barrier": threading.Barrier(2), "rank 1 exchanging": threading.Event()}
    groups = {"rank-0": ThreadGroup(0, 2, shared), "rank-1": ThreadGroup(1, 2, shared)}
    monkeypatch.setattr(cli.ScanGroup, "start", classmethod(lambda cls, _d: groups[threading.current_thread().name]))
    real_check = ScanFolder.check

    def check(self, resume, result_file):
        if self.rank == 0:  # rank 1 is at its first exchange: anything it wrote before would be there
            assert shared["rank 1 exchanging"].wait(60)
            shared["seen by rank 0's check"] = sorted(p.name for p in tmp_path.iterdir())
        return real_check(self, resume, result_file)

    monkeypatch.setattr(ScanFolder, "check", check)
    args = ["top-examples", "--model", MODEL, "--data", DATA, "--layer", "relu3", "--k", "3", "--limit", "32",
            "--batch-size", "8", "--checkpoint-every", "8", "--progress-every", "0", "--out", str(tmp_path)]
    status: Dict[str, int] = {}

    def rank():
        status[threading.current_thread().name] = cli.main(args)

    threads = [threading.Thread(target=rank, name=name) for name in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert shared["seen by rank 0's check"] == []  # rank 1 had written nothing yet
    assert status == {"rank-0": 0, "rank-1": 0}
    reference = nl.core.top_examples(nl.zoo.digits_cnn(), Subset(digits_test(), range(32)), "relu3", k=3,
                                     batch_size=8)
    assert_same_top_examples(nl.core.load_top_examples(tmp_path), reference)
