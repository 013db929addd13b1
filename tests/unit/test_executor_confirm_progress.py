"""A wait for deletions to be confirmed says what it waits for, at a modest rate, to a watcher."""

from __future__ import annotations

import io
import threading
from types import SimpleNamespace

from reaper import progress
from reaper.cli.progress import Progress, waits
from reaper.executor.clock import Clock
from reaper.executor.confirm import SAY_EVERY, ConfirmationPoller
from reaper.executor.contract import Confirmation, Limits
from reaper.model import OutcomeStatus, Resource, ResourceRef, Step
from tests.unit.test_executor import plan_of

LIMITS = Limits(confirm_interval=5.0, confirm_max_interval=30.0, confirm_timeout=600.0)


class StillListed:
    """A service whose listings still show every resource (nothing confirmed yet)."""

    def confirm(self, rtype: str, action: str, pending: object) -> Confirmation:
        return Confirmation()


class Tick:
    """The injected monotonic clock: time moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def volume(rid: str) -> Step:
    return Step(
        id=f"delete:{rid}", action="delete", resource=ResourceRef("block_storage.volume", rid)
    )


def resource(step: Step) -> Resource:
    return Resource(type=step.resource.type, id=step.resource.id, project_id="p")


def poller(tick: Tick) -> ConfirmationPoller:
    outcomes: list[tuple[str, OutcomeStatus, str]] = []
    return ConfirmationPoller(
        StillListed(),  # type: ignore[arg-type]
        LIMITS,
        Clock(monotonic=tick),
        threading.Condition(),
        lambda sid, status, reason: outcomes.append((sid, status, reason)),
    )


def test_a_long_wait_says_how_many_of_which_type_for_how_long_of_the_timeout() -> None:
    tick = Tick()
    said: list[str] = []
    confirm = poller(tick)
    try:
        with progress.watched(said.append):
            for rid in ("v1", "v2", "v3"):
                step = volume(rid)
                confirm.accepted(step, resource(step))
            confirm.start_due()
            tick.now += SAY_EVERY / 2
            confirm.start_due()
            assert said == []  # a short wait is nothing to wonder about
            tick.now += SAY_EVERY / 2 + 2
            confirm.start_due()
            assert said == ["waiting for 3 volume(s) to go (12 s of 600)"]
            tick.now += 1
            confirm.start_due()
            assert len(said) == 1  # not again a second later
            tick.now += SAY_EVERY
            confirm.start_due()
            assert said[1:] == ["waiting for 3 volume(s) to go (23 s of 600)"]
    finally:
        confirm.shutdown()


def test_nobody_watching_costs_nothing_and_says_nothing() -> None:
    tick = Tick()
    confirm = poller(tick)
    try:
        step = volume("v1")
        confirm.accepted(step, resource(step))
        tick.now += 3 * SAY_EVERY
        confirm.start_due()  # no watcher installed: no error, no output
    finally:
        confirm.shutdown()


def test_apply_shows_the_waits_on_stderr_but_not_with_quiet() -> None:
    step = volume("v1")
    for verbose_level, expected in ((1, "waiting for 1 volume(s) to go (15 s of 600)\n"), (0, "")):
        stream = io.StringIO()
        app = SimpleNamespace(options=SimpleNamespace(verbose_level=verbose_level))
        with waits(app, Progress(plan_of(step), stream)):
            progress.report("waiting for 1 volume(s) to go (15 s of 600)")
        assert stream.getvalue() == expected
