"""The funnel: requests made while one is written are written together, once, in order."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from reaper.store.funnel import Funnel, Turn


class GatedWrite:
    """A write that waits until released, and notes who wrote what and how many at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[list[str]] = []
        self.inside = 0
        self.most_inside = 0
        self.fail = False

    def __call__(self, items: Sequence[str]) -> list[str]:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            self.gate.wait(5)
            if self.fail:
                raise RuntimeError("store went away")
            self.calls.append(list(items))
            return [item.upper() for item in items]
        finally:
            self.inside -= 1


class Submitted:
    """Requests submitted from threads of their own: the first alone, the rest piled up."""

    def __init__(
        self, funnel: Funnel[str, list[str]], write: GatedWrite, requests: list[list[str]]
    ) -> None:
        self._turns: list[Turn[list[str]] | None] = [None] * len(requests)
        self._threads = [
            threading.Thread(target=self._one, args=(funnel, requests, i))
            for i in range(len(requests))
        ]
        self._threads[0].start()
        while write.inside == 0:  # the first request alone is being written
            threading.Event().wait(0.005)
        for thread in self._threads[1:]:
            thread.start()
        while funnel.waiting < len(requests) - 1:  # the others all wait for the next write
            threading.Event().wait(0.005)

    def _one(self, funnel: Funnel[str, list[str]], requests: list[list[str]], i: int) -> None:
        self._turns[i] = funnel.submit(requests[i])

    def turns(self) -> list[Turn[list[str]]]:
        """Each caller's turn, once every caller has its answer (not merely once written:
        a caller sees its turn only after the leader lets it go)."""
        for thread in self._threads:
            thread.join(10)
        assert all(turn is not None for turn in self._turns), "a caller never got its turn"
        return self._turns  # type: ignore[return-value]


def test_requests_made_during_a_write_share_the_next_write_in_arrival_order() -> None:
    write = GatedWrite()
    funnel: Funnel[str, list[str]] = Funnel(write)
    requests = [["a"], ["b", "c"], ["d"], ["e", "f", "g"]]

    submitted = Submitted(funnel, write, requests)
    write.gate.set()
    turns = submitted.turns()

    assert len(write.calls) == 2 and write.calls[0] == ["a"]
    assert sorted(write.calls[1]) == ["b", "c", "d", "e", "f", "g"]
    assert write.most_inside == 1, "write is never called by two threads at once"
    assert (funnel.groups, funnel.requests) == (2, 4)
    for request, turn in zip(requests, turns, strict=True):
        # Each caller finds its own items, contiguous, where the group put them.
        assert turn.error is None and turn.result is not None
        assert turn.result[turn.offset : turn.offset + turn.size] == [i.upper() for i in request]
    assert not turns[0].shared and turns[1].shared


def test_a_failed_write_reaches_every_caller_in_its_group_and_is_not_retried() -> None:
    write = GatedWrite()
    write.fail = True
    funnel: Funnel[str, list[str]] = Funnel(write)

    submitted = Submitted(funnel, write, [["a"], ["b"], ["c"]])
    write.gate.set()
    turns = submitted.turns()

    assert all(isinstance(t.error, RuntimeError) and t.result is None for t in turns)
    assert write.calls == []
    write.fail = False
    assert funnel.submit(["z"]).result == ["Z"]


def test_a_lone_request_is_written_at_once() -> None:
    write = GatedWrite()
    write.gate.set()
    funnel: Funnel[str, list[str]] = Funnel(write)
    turn = funnel.submit(["x", "y"])
    assert (turn.result, turn.offset, turn.size, turn.shared) == (["X", "Y"], 0, 2, False)
    with pytest.raises(AttributeError):
        turn.offset = 1  # type: ignore[misc]
