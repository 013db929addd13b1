"""A gone identity's scope says since when it was gone, so cloud-wide reads since serve it.

The bound must never be earlier than the deletion (a read begun before it
could miss what the project still owned): reaper's receipt of Keystone's
deletion notification (plus a margin for another host's clock), or the end
of Keystone's 404; nothing for an
identity that may still exist.
"""

from __future__ import annotations

import datetime as dt

from reaper.cleanup.plan import CLOCK_MARGIN, deleted_by, gone_bound, make_plan
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityState
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Tombstone,
    TombstoneState,
    Trigger,
    TriggerSource,
    utcnow,
)
from reaper.policy import PolicySet

from .fakes import PROJECT, FakeCloud

SETTINGS = Settings(owner="cli")
HEARD = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.timezone.utc)


def test_the_time_reaper_heard_of_the_deletion_bounds_it(
    cloud: FakeCloud, policies: PolicySet
) -> None:
    make_plan(cloud.seams(), PROJECT, policies, SETTINGS, gone_by=HEARD)
    assert [s.gone_by for s in cloud.inventory.scopes] == [HEARD + CLOCK_MARGIN]


def test_the_bound_is_never_later_than_now() -> None:
    assert gone_bound(HEARD, HEARD) == HEARD
    assert gone_bound(None, HEARD) == HEARD
    assert gone_bound(HEARD, HEARD + dt.timedelta(hours=1)) == HEARD + CLOCK_MARGIN


def test_else_keystones_answer_bounds_it(cloud: FakeCloud, policies: PolicySet) -> None:
    before = utcnow()
    make_plan(cloud.seams(), PROJECT, policies, SETTINGS)
    (scope,) = cloud.inventory.scopes
    assert scope.gone_by is not None and before <= scope.gone_by <= utcnow()


def test_a_disabled_identity_has_no_bound(cloud: FakeCloud, policies: PolicySet) -> None:
    cloud.keystone.answers[PROJECT] = IdentityState.DISABLED
    make_plan(cloud.seams(), PROJECT, policies, SETTINGS, disabled_ok=True, gone_by=HEARD)
    assert [s.gone_by for s in cloud.inventory.scopes] == [None]


def tombstone(identity: IdentityRef, *events: str) -> Tombstone:
    triggers = tuple(
        Trigger(TriggerSource.NOTIFICATION, event_type=e, received_at=HEARD + dt.timedelta(n))
        for n, e in enumerate(events)
    )
    return Tombstone(id="t", identity=identity, state=TombstoneState.RECEIVED, triggers=triggers)


def test_a_project_is_gone_by_its_latest_deletion_notification() -> None:
    ts = tombstone(PROJECT, "identity.project.deleted", "identity.project.deleted")
    assert deleted_by(ts) == HEARD + dt.timedelta(1)


def test_no_bound_from_a_disable_a_user_or_no_notification() -> None:
    assert deleted_by(tombstone(PROJECT, "identity.project.deleted", "x.disabled")) is None
    user = IdentityRef(IdentityKind.USER, "u" * 32)
    assert deleted_by(tombstone(user, "identity.user.deleted")) is None
    assert deleted_by(tombstone(PROJECT)) is None
