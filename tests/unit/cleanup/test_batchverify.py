"""The sweep's batch verification: one request per owner, gone only between two good witnesses."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest

from reaper.cleanup import batchverify
from reaper.cleanup.verify import IdentityState, Verification, VerificationError
from reaper.model import IdentityKind, IdentityRef


def project(n: int) -> IdentityRef:
    return IdentityRef(IdentityKind.PROJECT, f"p{n}")


def gone(identity: IdentityRef) -> Verification:
    return Verification(identity, IdentityState.GONE)


def enabled(identity: IdentityRef) -> Verification:
    return Verification(identity, IdentityState.ENABLED)


def verdicts(settled: dict) -> dict[str, str]:
    return {
        i.id: "cannot say" if isinstance(a, VerificationError) else a.state.value
        for i, a in settled.items()
    }


# -- settle: pure -----------------------------------------------------------------------------


def test_gone_counts_between_two_good_witnesses() -> None:
    batch = {project(1): gone(project(1)), project(2): enabled(project(2))}
    assert verdicts(batchverify.settle([batch], [True, True])) == {"p1": "gone", "p2": "enabled"}


@pytest.mark.parametrize("witnesses", [[False, True], [True, False], [False, False]])
def test_a_failed_witness_either_side_turns_gone_into_cannot_say(witnesses: list[bool]) -> None:
    """A Keystone that did not know reaper's account around the 404s cannot say they are gone."""
    batch = {project(1): gone(project(1)), project(2): enabled(project(2))}
    settled = batchverify.settle([batch], witnesses)
    assert verdicts(settled) == {"p1": "cannot say", "p2": "enabled"}
    assert "not both found before and after" in str(settled[project(1)])


def test_a_witness_failing_between_two_batches_spoils_both_and_no_other() -> None:
    batches = [{project(n): gone(project(n))} for n in range(4)]
    settled = batchverify.settle(batches, [True, True, False, True, True])
    assert verdicts(settled) == {"p0": "gone", "p1": "cannot say", "p2": "cannot say", "p3": "gone"}


def test_a_check_that_could_not_say_stays_so_whatever_the_witnesses() -> None:
    error = VerificationError("Keystone unreachable")
    assert batchverify.settle([{project(1): error}], [True, True]) == {project(1): error}


def test_witnesses_must_surround_every_batch() -> None:
    with pytest.raises(ValueError, match="2 batches need 3 witnesses"):
        batchverify.settle([{}, {}], [True, True])


# -- verify_many: the batches, the witnesses, the pool ------------------------------------


class Keystone:
    """One request per question; the witness fails on the calls listed in ``failing``."""

    def __init__(self, failing: tuple[int, ...] = (), alive: tuple[IdentityRef, ...] = ()):
        self.failing = failing
        self.alive = alive
        self.log: list[str] = []
        self.lock = threading.Lock()
        self.witnessed = 0

    def check(self, identity: IdentityRef) -> Verification:
        with self.lock:
            self.log.append(identity.id)
        return enabled(identity) if identity in self.alive else gone(identity)

    def witness(self) -> None:
        with self.lock:
            self.witnessed += 1
            self.log.append(f"witness{self.witnessed}")
            if self.witnessed in self.failing:
                raise VerificationError("reaper's own project not found")


def run(keystone: Keystone, n: int, batch: int = 3) -> dict[str, str]:
    identities = [project(i) for i in range(n)]
    return verdicts(
        batchverify.verify_many(keystone.check, keystone.witness, identities, batch=batch)
    )


def test_one_question_per_owner_and_two_witness_reads_per_batch_boundary() -> None:
    keystone = Keystone()
    assert set(run(keystone, 7).values()) == {"gone"}
    questions = [entry for entry in keystone.log if not entry.startswith("witness")]
    assert sorted(questions) == [f"p{i}" for i in range(7)]
    assert keystone.witnessed == 4  # before batch 1, between 1-2 and 2-3, after batch 3


def test_every_question_of_a_batch_is_asked_between_its_two_witnesses() -> None:
    keystone = Keystone()
    run(keystone, 7)
    marks = [i for i, entry in enumerate(keystone.log) if entry.startswith("witness")]
    between = [keystone.log[a + 1 : b] for a, b in itertools.pairwise(marks)]
    assert [sorted(b) for b in between] == [["p0", "p1", "p2"], ["p3", "p4", "p5"], ["p6"]]


def test_a_witness_failing_mid_sweep_keeps_what_came_before_and_asks_nothing_after() -> None:
    """Witness 3 (after batch 2) fails: batch 1 is gone, batch 2 cannot say, batch 3 unasked."""
    keystone = Keystone(failing=(3,), alive=(project(4),))
    got = run(keystone, 8)
    assert got == {
        "p0": "gone",
        "p1": "gone",
        "p2": "gone",
        "p3": "cannot say",
        "p4": "enabled",
        "p5": "cannot say",
        "p6": "cannot say",
        "p7": "cannot say",
    }
    assert "p6" not in keystone.log and "p7" not in keystone.log


def test_a_witness_failing_first_asks_nobody() -> None:
    keystone = Keystone(failing=(1,))
    assert set(run(keystone, 5).values()) == {"cannot say"}
    assert keystone.log == ["witness1"]


def test_a_check_that_raises_something_else_could_not_say() -> None:
    def check(identity: IdentityRef) -> Verification:
        raise ConnectionError("reset by peer")

    settled = batchverify.verify_many(check, lambda: None, [project(1)])
    assert isinstance(settled[project(1)], VerificationError)
    assert "ConnectionError" in str(settled[project(1)])


def test_questions_run_on_a_bounded_pool() -> None:
    """At most ``workers`` questions are in flight at once."""
    in_flight, most = 0, 0
    lock = threading.Lock()
    barrier = threading.Barrier(3, timeout=5)

    def check(identity: IdentityRef) -> Verification:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        barrier.wait()  # three run together, or this times out and the check fails
        with lock:
            in_flight -= 1
        return gone(identity)

    identities = [project(i) for i in range(9)]
    batchverify.verify_many(check, lambda: None, identities, batch=9, workers=3)
    assert most == 3


def test_no_identity_no_request() -> None:
    calls: list[str] = []
    witness: Callable[[], None] = lambda: calls.append("w")  # noqa: E731
    assert batchverify.verify_many(lambda i: gone(i), witness, []) == {}
    assert calls == []
