"""When a finished tombstone is looked at again, and when it is not."""

from __future__ import annotations

import pytest

from reaper.cleanup.lifecycle import deleted_meanwhile, should_reopen
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Tombstone,
    TombstoneState,
    Trigger,
    TriggerSource,
)

DELETED = "identity.project.deleted"
UPDATED = "identity.project.updated"
DOMAIN_DELETED = "identity.domain.deleted"


@pytest.mark.parametrize("event", [DELETED, UPDATED, None])
def test_a_refusal_never_means_ignoring_the_identity_forever(event: str | None) -> None:
    assert should_reopen(TombstoneState.REFUSED, None, event)


def test_a_deletion_after_a_completed_disable_reopens() -> None:
    assert should_reopen(TombstoneState.COMPLETE, "identity.domain.disabled", DELETED)


def test_a_second_deletion_notice_after_a_completed_deletion_does_not() -> None:
    assert not should_reopen(TombstoneState.COMPLETE, "identity.project.deleted", DELETED)


def test_a_second_disable_after_a_completed_disable_does_not() -> None:
    assert not should_reopen(TombstoneState.COMPLETE, "identity.project.disabled", UPDATED)


@pytest.mark.parametrize(
    "state",
    [s for s in TombstoneState if s not in (TombstoneState.REFUSED, TombstoneState.COMPLETE)],
)
def test_work_in_progress_is_never_reopened(state: TombstoneState) -> None:
    assert not should_reopen(state, "identity.project.disabled", DELETED)


def _tombstone(state: TombstoneState, *events: str) -> Tombstone:
    return Tombstone(
        id="t",
        identity=IdentityRef(IdentityKind.DOMAIN, "d"),
        state=state,
        triggers=tuple(Trigger(TriggerSource.NOTIFICATION, event_type=e) for e in events),
    )


def test_a_deletion_notice_recorded_while_a_disable_ran_is_noticed_at_completion() -> None:
    tombstone = _tombstone(TombstoneState.COMPLETE, "identity.domain.updated", DOMAIN_DELETED)
    assert deleted_meanwhile(tombstone, "identity.domain.disabled")


def test_no_deletion_notice_means_the_disable_is_simply_done() -> None:
    tombstone = _tombstone(TombstoneState.COMPLETE, "identity.domain.updated")
    assert not deleted_meanwhile(tombstone, "identity.domain.disabled")


def test_a_completed_deletion_is_not_looked_at_again() -> None:
    tombstone = _tombstone(TombstoneState.COMPLETE, DOMAIN_DELETED, DOMAIN_DELETED)
    assert not deleted_meanwhile(tombstone, "identity.domain.deleted")


def test_an_unfinished_disable_is_left_to_its_worker() -> None:
    tombstone = _tombstone(TombstoneState.PARTIAL, "identity.domain.updated", DOMAIN_DELETED)
    assert not deleted_meanwhile(tombstone, "identity.domain.disabled")
