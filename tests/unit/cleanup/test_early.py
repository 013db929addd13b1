"""The usage before cleanup, read beside discovery rather than after the plan (early.py).

The worker, store, trail, planner and executor are real; the seams are
scripted, and discovery waits for the usage to be asked: a worker that
asked in turn would leave the wait to its timeout (nothing listed, nothing
run), never pass by luck of timing.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Collection

import pytest

from reaper.audit.trail import AuditTrail
from reaper.cleanup.early import NOVA_REFUSES
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityState
from reaper.inventory.base import Scope
from reaper.inventory.discover import Inventory
from reaper.model import Tombstone, TombstoneState
from reaper.policy import PolicySet
from reaper.reclaim import Usage
from reaper.store import Store

from .fakes import PROJECT, FakeCloud, Inventory_, server
from .test_worker import SETTINGS, notified, worker

#: Longest wait for the read that must run beside: only reached when it does not.
BESIDE = 10.0


class InventoryAfterUsage(Inventory_):
    """Lists only once the usage was asked meanwhile (else finds nothing)."""

    def __init__(self, usage_asked: threading.Event) -> None:
        super().__init__()
        self.usage_asked = usage_asked

    def __call__(self, scope: Scope) -> Inventory:
        if not self.usage_asked.wait(BESIDE):
            return Inventory(scope=scope, findings=())
        return super().__call__(scope)


class Usages:
    def __init__(self) -> None:
        self.asked = threading.Event()
        self.ids: list[str] = []
        #: The services each reading was limited to (None: every one).
        self.services: list[list[str] | None] = []

    def __call__(self, project_id: str, services: Collection[str] | None = None) -> Usage:
        self.ids.append(project_id)
        self.services.append(None if services is None else sorted(services))
        self.asked.set()
        return Usage({"placement.VCPU": 1.0 if len(self.ids) == 1 else 0.0}, {})


@pytest.fixture
def usages(cloud: FakeCloud) -> Usages:
    """The fake cloud's usage reading, watched by every test here."""
    cloud.usage = Usages()
    return cloud.usage


#: Notify the project's deletion (``notified``'s keywords), let one worker take it.
WorkOnce = Callable[..., Tombstone]


@pytest.fixture
def work_once(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet, usages: Usages
) -> WorkOnce:
    def run(settings: Settings = SETTINGS, **notice: bool) -> Tombstone:
        notified(store, **notice)
        done = worker(store, trail, cloud, policies, settings).work_once()
        assert done is not None
        return done

    return run


def test_a_projects_usage_is_read_beside_discovery_and_kept_before_its_steps(
    store: Store, cloud: FakeCloud, usages: Usages, work_once: WorkOnce
) -> None:
    cloud.inventory = InventoryAfterUsage(usages.asked)
    cloud.inventory.resources = [server("s1")]
    done = work_once()
    assert done.state is TombstoneState.COMPLETE, done
    assert cloud.ran  # the server was listed: the usage was asked while discovery waited
    kept = store.reclaim.get(done.id)
    assert kept is not None and kept.before["figures"]["placement.VCPU"] == 1.0


def test_a_live_identity_has_no_usage_read(
    cloud: FakeCloud, usages: Usages, work_once: WorkOnce
) -> None:
    cloud.keystone.answers[PROJECT] = IdentityState.ENABLED
    assert work_once().state is TombstoneState.REFUSED
    assert usages.ids == [] and cloud.inventory.scopes == []


def test_an_identity_never_seen_alive_costs_keystones_check_only(
    cloud: FakeCloud, usages: Usages, work_once: WorkOnce
) -> None:
    assert work_once(seen=False).state is TombstoneState.REFUSED
    assert cloud.house.asked == [] and usages.ids == [] and cloud.inventory.scopes == []


def test_a_dry_run_controller_reads_no_usage(
    cloud: FakeCloud, usages: Usages, work_once: WorkOnce
) -> None:
    cloud.inventory.resources = [server("s1")]
    done = work_once(dataclasses.replace(SETTINGS, dry_run=True))
    assert done.state is TombstoneState.HELD
    assert usages.ids == [] and cloud.ran == []


def test_a_gone_projects_nova_is_not_asked_for_the_quotas_it_would_refuse(
    store: Store, cloud: FakeCloud, usages: Usages, work_once: WorkOnce
) -> None:
    cloud.inventory.resources = [server("s1")]
    done = work_once()
    assert done.state is TombstoneState.COMPLETE, done
    first = usages.services[0]
    assert first is not None and "compute" not in first and "placement" in first
    kept = store.reclaim.get(done.id)
    assert kept is not None and kept.before["unavailable"]["compute"] == NOVA_REFUSES


def test_a_disabled_projects_nova_is_asked(
    cloud: FakeCloud, usages: Usages, work_once: WorkOnce
) -> None:
    cloud.keystone.answers[PROJECT] = IdentityState.DISABLED
    work_once(disabled=True)
    assert usages.services[:1] == [None]
