"""Group commit: concurrent appends share transactions, each caller's records stay its own."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from reaper.audit import chain
from reaper.audit.chain import ChainHead, ChainRecord, Sealable
from reaper.audit.groupcommit import GroupCommit
from tests.unit.audit.helpers import draft


class SlowChain:
    """A chain whose writes wait until released, to make threads pile up behind one."""

    def __init__(self) -> None:
        self.head = ChainHead()
        self.writes: list[int] = []
        self.gate = threading.Event()
        self.fail = False

    def write(self, drafts: Sequence[Sealable]) -> list[ChainRecord]:
        self.gate.wait(5)
        if self.fail:
            raise RuntimeError("database went away")
        sealed = chain.seal(self.head, drafts)
        self.head = chain.tip(self.head, sealed)
        self.writes.append(len(drafts))
        return sealed


def run_threads(
    group: GroupCommit, requests: list[list[Sealable]]
) -> tuple[list[list[ChainRecord]], list[threading.Thread]]:
    results: list[list[ChainRecord]] = [[] for _ in requests]

    def one(i: int) -> None:
        results[i] = group.append(requests[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    return results, threads


def test_appends_made_while_one_is_written_share_the_next_transaction() -> None:
    slow = SlowChain()
    group = GroupCommit(slow.write)
    requests = [[draft(10 * i + j) for j in range(i + 1)] for i in range(6)]

    results, threads = run_threads(group, requests)
    while group.waiting < 5:  # one writes, five queue
        threading.Event().wait(0.01)
    slow.gate.set()
    for t in threads:
        t.join(5)

    assert len(slow.writes) == 2
    assert (group.groups, group.requests) == (2, 6)
    seqs = []
    for request, sealed in zip(requests, results, strict=True):
        # Each caller's records are contiguous and sealed exactly as its own append would be.
        first = sealed[0]
        assert sealed == chain.seal(ChainHead(first.seq - 1, first.prev_head), request)
        seqs.extend(r.seq for r in sealed)
    assert sorted(seqs) == list(range(1, len(seqs) + 1))


def test_a_failed_group_fails_every_caller_in_it_and_writes_nothing() -> None:
    slow = SlowChain()
    slow.fail = True
    slow.gate.set()
    group = GroupCommit(slow.write)

    with pytest.raises(RuntimeError, match="went away"):
        group.append([draft(1)])
    assert slow.writes == []
    slow.fail = False
    assert [r.seq for r in group.append([draft(2)])] == [1]
