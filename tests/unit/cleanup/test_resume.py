"""A resumed run goes on from its plan's own discovery only when it is the stopped run, young."""

from __future__ import annotations

import datetime as dt

import pytest

from reaper.cleanup.settle import reuses_discovery
from reaper.model import IdentityKind, IdentityRef, Plan, TombstoneState

MADE = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
BOUND = dt.timedelta(minutes=5)


def plan() -> Plan:
    return Plan(identity=IdentityRef(IdentityKind.PROJECT, "p" * 32), created_at=MADE)


@pytest.mark.parametrize(
    ("state", "age", "reused"),
    [
        (TombstoneState.EXECUTING, dt.timedelta(seconds=30), True),
        (TombstoneState.EXECUTING, dt.timedelta(0), True),
        (TombstoneState.EXECUTING, BOUND, False),
        (TombstoneState.EXECUTING, dt.timedelta(hours=3), False),
        (TombstoneState.EXECUTING, dt.timedelta(seconds=-30), False),
        (TombstoneState.PLANNED, dt.timedelta(seconds=30), False),
        (TombstoneState.PARTIAL, dt.timedelta(seconds=30), False),
        (TombstoneState.DEFERRED, dt.timedelta(seconds=30), False),
    ],
)
def test_only_a_stopped_run_of_a_plan_younger_than_the_bound_skips_the_recheck(
    state: TombstoneState, age: dt.timedelta, reused: bool
) -> None:
    assert reuses_discovery(state, plan(), MADE + age, BOUND) is reused


def test_a_zero_bound_rechecks_every_resumed_run() -> None:
    assert not reuses_discovery(TombstoneState.EXECUTING, plan(), MADE, dt.timedelta(0))
