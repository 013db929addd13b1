"""The controller's Keystone gate: while credentials fail, tombstones wait, Keystone is spared."""

from __future__ import annotations

from reaper.credentials import CredentialError, Reason
from reaper.keystone_access import KeystoneGate

REFUSED = CredentialError(
    "the credentials of x were rejected (401 Unauthorized)", Reason.UNAUTHORIZED
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(clock: Clock, counted: list[Reason]) -> KeystoneGate:
    def explain(exc: BaseException) -> CredentialError | None:
        return exc if isinstance(exc, CredentialError) else None

    return KeystoneGate(
        explain, on_failure=counted.append, clock=clock, first_wait=5.0, max_wait=20.0
    )


def test_an_open_gate_admits_every_caller() -> None:
    access = gate(Clock(), [])
    assert all(access.admit() for _ in range(10))
    assert access.problem is None and access.seconds_to_retry() == 0.0


def test_a_credential_failure_closes_the_gate_counts_it_and_says_why() -> None:
    clock, counted = Clock(), []
    access = gate(clock, counted)

    assert access.failed(REFUSED) is REFUSED

    assert counted == [Reason.UNAUTHORIZED]
    assert access.problem is REFUSED
    assert not access.admit()
    assert access.seconds_to_retry() == 5.0


def test_a_closed_gate_lets_one_caller_per_wait_try_again() -> None:
    clock = Clock()
    access = gate(clock, [])
    access.failed(REFUSED)
    clock.now += 5.0

    admitted = [access.admit() for _ in range(4)]

    assert admitted == [True, False, False, False]


def test_the_wait_doubles_while_keystone_keeps_failing_up_to_the_maximum() -> None:
    clock = Clock()
    access = gate(clock, [])
    waits = []
    for _ in range(5):
        access.failed(REFUSED)
        waits.append(access.seconds_to_retry())
        clock.now += waits[-1]
        assert access.admit()
    assert waits == [5.0, 10.0, 20.0, 20.0, 20.0]


def test_one_success_opens_the_gate_for_everyone() -> None:
    clock = Clock()
    access = gate(clock, [])
    access.failed(REFUSED)
    clock.now += 5.0
    assert access.admit()

    access.succeeded()

    assert access.problem is None
    assert all(access.admit() for _ in range(4))
    access.failed(REFUSED)
    assert access.seconds_to_retry() == 5.0  # the backoff starts over


def test_a_failure_that_is_not_about_keystone_leaves_the_gate_open() -> None:
    counted: list[Reason] = []
    access = gate(Clock(), counted)
    assert access.failed(RuntimeError("a plan step failed")) is None
    assert access.admit() and counted == []
