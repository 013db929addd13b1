"""The seams: the house asked beside Keystone's verdict, served once, never stale."""

from __future__ import annotations

import threading

import pytest

from reaper.audit.trail import AuditTrail
from reaper.cleanup.house import AdminProject
from reaper.cleanup.verify import IdentityState, Verification, VerificationError
from reaper.cleanup.worker import Worker
from reaper.model import IdentityRef, TombstoneState
from reaper.policy import PolicySet
from reaper.store import Store

from .fakes import PROJECT, FakeCloud, House, server
from .test_worker import SETTINGS, notified

ADMIN = AdminProject("admin", "Default")


def test_the_house_is_asked_before_its_question_and_serves_it_once() -> None:
    cloud = FakeCloud()
    ahead = cloud.seams().house_ahead(ADMIN)
    assert _asked_soon(cloud.house)  # sent at once, before anyone asks
    assert ahead.house(ADMIN) == cloud.house.ids
    assert len(cloud.house.asked) == 1  # the answer asked ahead served the plan
    assert ahead.house(ADMIN) == cloud.house.ids
    assert len(cloud.house.asked) == 2  # a later question (a re-check) asks Keystone again


def test_another_admin_project_is_asked_for_itself() -> None:
    cloud = FakeCloud()
    ahead = cloud.seams().house_ahead(ADMIN)
    other = AdminProject("cloud-admin", "infra")
    ahead.house(other)
    assert ("cloud-admin", "infra") in cloud.house.asked


def test_keystones_error_about_the_house_is_raised_where_the_plan_asks() -> None:
    cloud = FakeCloud(house=House())
    cloud.house.ids = VerificationError("Keystone unreachable")  # type: ignore[assignment]
    ahead = cloud.seams().house_ahead(ADMIN)
    with pytest.raises(VerificationError, match="unreachable"):
        ahead.house(ADMIN)


def test_the_worker_asks_the_house_while_keystone_gives_its_verdict(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    """Keystone's verdict waits for the house to be asked: one round trip, not two in a row."""
    house_asked = threading.Event()
    house, verdict = cloud.house, cloud.keystone

    def asked_house(admin: AdminProject) -> frozenset[str]:
        house_asked.set()
        return house(admin)

    def slow_verdict(identity: IdentityRef) -> Verification:
        assert house_asked.wait(5), "the house was not asked beside the verdict"
        return verdict(identity)

    cloud.house = asked_house  # type: ignore[assignment]
    cloud.keystone = slow_verdict  # type: ignore[assignment]
    cloud.inventory.resources = [server("s1")]
    notified(store)
    done = Worker(
        SETTINGS, store=store, trail=trail, cloud=cloud.seams, policies=lambda: policies
    ).work_once()
    assert done is not None and done.state is TombstoneState.COMPLETE
    assert len(house.asked) == 1  # asked once, beside the verdict, and used by the plan


def test_a_refused_identity_costs_only_the_house_beside_its_verdict(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.keystone.answers[PROJECT] = IdentityState.ENABLED
    notified(store)
    done = Worker(
        SETTINGS, store=store, trail=trail, cloud=cloud.seams, policies=lambda: policies
    ).work_once()
    assert done is not None and done.state is TombstoneState.REFUSED
    assert cloud.inventory.scopes == []  # nothing discovered for a project Keystone has
    assert _asked_soon(cloud.house) and len(cloud.house.asked) == 1


def test_an_identity_never_seen_alive_gets_no_house_beside_its_verdict(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    """Refused whatever Keystone says (``known``): a flood of made-up ids costs no more reads."""
    notified(store, seen=False)
    done = Worker(
        SETTINGS, store=store, trail=trail, cloud=cloud.seams, policies=lambda: policies
    ).work_once()
    assert done is not None and done.state is TombstoneState.REFUSED
    assert cloud.house.asked == []


def _asked_soon(house: House) -> bool:
    for _ in range(500):
        if house.asked:
            return True
        threading.Event().wait(0.01)
    return False
