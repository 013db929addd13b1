"""Coalescing: batches handed over while one is written are persisted together, once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from reaper.events.coalesce import Coalescer


class SlowStore:
    """A persist that waits until released, so that callers pile up behind the first."""

    def __init__(self, refuse: str | None = None) -> None:
        self.gate = threading.Event()
        self.persisted: list[list[Any]] = []
        self.refuse = refuse

    def persist(self, messages: Sequence[Any]) -> None:
        self.gate.wait(5)
        if self.refuse in messages:
            raise ValueError(f"refused {self.refuse}")
        self.persisted.append(list(messages))


def run(coalescer: Coalescer, batches: list[list[str]]) -> tuple[list[Any], list[threading.Thread]]:
    errors: list[Any] = [None] * len(batches)

    def one(i: int) -> None:
        try:
            coalescer.persist(batches[i])
        except Exception as exc:
            errors[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    return errors, threads


def pile_up(coalescer: Coalescer, waiting: int) -> None:
    while coalescer.waiting < waiting:
        threading.Event().wait(0.01)


def test_batches_handed_over_while_one_is_written_are_persisted_together() -> None:
    store = SlowStore()
    coalescer = Coalescer(store.persist)
    batches = [[f"{i}.{j}" for j in range(i + 1)] for i in range(5)]

    errors, threads = run(coalescer, batches)
    pile_up(coalescer, 4)  # one is being written, four wait
    store.gate.set()
    for t in threads:
        t.join(5)

    assert errors == [None] * 5
    assert len(store.persisted) == 2
    assert (coalescer.groups, coalescer.batches) == (2, 5)
    assert sorted(m for p in store.persisted for m in p) == sorted(m for b in batches for m in b)


def test_a_refusal_in_a_shared_group_costs_the_others_one_attempt_alone() -> None:
    store = SlowStore(refuse="poison")
    coalescer = Coalescer(store.persist)
    batches = [["first"], ["a", "poison"], ["b"], ["c"]]

    errors, threads = run(coalescer, batches[:1])
    threading.Event().wait(0.05)
    more, others = run(coalescer, batches[1:])
    pile_up(coalescer, 3)
    store.gate.set()
    for t in threads + others:
        t.join(5)

    assert errors == [None]
    assert [type(e) for e in more] == [ValueError, type(None), type(None)]
    assert sorted(m for p in store.persisted for m in p) == ["b", "c", "first"]


def test_an_unavailable_store_fails_every_caller_of_the_group_who_holds_its_own_batch() -> None:
    class Away(Exception):
        pass

    def persist(messages: Sequence[Any]) -> None:
        raise Away("the store is unavailable")

    coalescer = Coalescer(persist, propagate=(Away,))
    with pytest.raises(Away):
        coalescer.persist(["a"])
    coalescer.persist([])  # nothing to persist: no call at all
