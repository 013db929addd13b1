"""A cleanup that keeps what a live project uses waits, and the sweep finishes it later.

The worker, the sweep, the store, the trail, the policies and the planner are
real; the cloud is scripted (``fakes``): V's network, which live project L's
port uses until L stops.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup import sweep, waitlist
from reaper.cleanup.settings import Settings
from reaper.cleanup.worker import Worker
from reaper.inventory.base import Finding
from reaper.metrics import Metrics
from reaper.model import Resource, TombstoneState
from reaper.policy import PolicySet, load_policies
from reaper.store import Store

from .fakes import PROJECT, FakeCloud, server
from .test_sweep import Listings, obj
from .test_worker import SETTINGS, notified

#: The default policy's shape, for the types at hand.
POLICY = """
policies:
  - name: keep
    triggers: ["*"]
    resources: ["*"]
    protect:
      - {tag: "reaper:keep"}
      - {key: in_use_by_live_project, value: true}
  - name: delete
    triggers: [identity.project.deleted]
    resources: [compute.server, network.network]
    actions: [delete]
"""
USE = {
    "project_id": "l",
    "type": "network.port",
    "id": "p-1",
    "detail": "port p-1 on server s-l",
    "kind": "use",
}


def network(used: bool) -> Resource:
    attrs: dict[str, Any] = {
        "project_id": PROJECT.id,
        "tags": [],
        "reaper_relation": "owner",
        "in_use_by_live_project": used,
        "shared_with_live_project": False,
        "reaper_used_by": [USE] if used else [],
    }
    return Resource(
        type="network.network", id="net-v", name="v-net", project_id=PROJECT.id, attributes=attrs
    )


@pytest.fixture
def live_policies(tmp_path: Path) -> PolicySet:
    path = tmp_path / "live.yaml"
    path.write_text(textwrap.dedent(POLICY).lstrip(), encoding="utf-8")
    return load_policies([str(path)])


def work(store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet) -> Any:
    return Worker(
        SETTINGS, store=store, trail=trail, cloud=cloud.seams, policies=lambda: policies
    ).work_once()


def sweeper(store: Store, trail: AuditTrail, cloud: FakeCloud) -> sweep.Sweeper:
    return sweep.Sweeper(Settings(), store=store, trail=trail, cloud=cloud.seams)


def records(store: Store) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in AuditRepository(store.db).records()]


@pytest.fixture
def waited(store: Store, trail: AuditTrail, live_policies: PolicySet) -> tuple[FakeCloud, Any]:
    """V deleted; its server goes, its network (L's port on it) is kept: waiting."""
    cloud = FakeCloud(conn=Listings())
    cloud.inventory.resources = [server("s-v"), network(used=True)]
    notified(store)
    return cloud, work(store, trail, cloud, live_policies)


class TestACleanupThatKeepsWhatALiveProjectUses:
    def test_it_does_the_rest_and_waits(self, store: Store, waited: Any) -> None:
        cloud, tombstone = waited
        assert tombstone.state is TombstoneState.WAITING
        assert cloud.ran == ["delete:compute.server:s-v"]
        assert "waiting: 1 kept while in use by live project l" in tombstone.reason
        assert tombstone.next_attempt_at is None and tombstone.claimed_by is None
        assert store.tombstones.claim_next("worker-1") is None  # no worker retries it

    def test_the_waitlist_says_what_waits_for_whom(self, store: Store, waited: Any) -> None:
        _, tombstone = waited
        [waiter] = list(waitlist.waiters(store))
        assert waiter.tombstone.id == tombstone.id
        [kept] = waiter.kept
        assert (str(kept.ref), kept.name, kept.projects) == (
            "network.network:net-v",
            "v-net",
            ("l",),
        )
        assert waitlist.Census(store)() == {"network.network": 1}

    def test_a_sweep_while_it_is_still_used_changes_nothing(
        self, store: Store, trail: AuditTrail, waited: Any
    ) -> None:
        cloud, tombstone = waited
        before = len(records(store))
        sweeper(store, trail, cloud).sweep_once()
        assert store.tombstones.get(tombstone.id).state is TombstoneState.WAITING
        assert len(records(store)) == before

    def test_a_discovery_that_failed_proves_nothing(
        self, store: Store, trail: AuditTrail, waited: Any
    ) -> None:
        cloud, tombstone = waited
        cloud.inventory.resources = [network(used=False)]
        cloud.inventory.others = [Finding("network", errors=("HTTP 503",))]
        sweeper(store, trail, cloud).sweep_once()
        assert store.tombstones.get(tombstone.id).state is TombstoneState.WAITING

    def test_once_unused_the_sweep_sends_it_round_and_the_next_plan_follows_the_first(
        self, store: Store, trail: AuditTrail, live_policies: PolicySet, waited: Any
    ) -> None:
        cloud, tombstone = waited
        first = tombstone.plan_hash
        cloud.inventory.resources = [network(used=False)]
        assert sweeper(store, trail, cloud).sweep_once() == 1
        woken = store.tombstones.get(tombstone.id)
        assert woken.state is TombstoneState.RECEIVED
        assert "network.network:net-v (no live project uses it)" in woken.reason
        done = work(store, trail, cloud, live_policies)
        assert done.state is TombstoneState.COMPLETE
        assert cloud.ran[-1] == "delete:network.network:net-v"
        trail_now = records(store)
        [wake] = [r for r in trail_now if r["action"] == "update"]
        assert wake["reaper"]["extra"]["follows"] == first
        plans = [r for r in trail_now if r["reason"]["reasonCode"].startswith("plan of")]
        assert len(plans) == 2
        assert plans[-1]["reaper"]["extra"]["follows"] == first
        assert f"following plan {first}" in plans[-1]["reason"]["reasonCode"]
        assert "follows" not in plans[0]["reaper"]["extra"]
        assert wake["reaper"]["tombstone_id"] == tombstone.id

    def test_a_sweep_held_for_too_many_orphans_rechecks_nothing(
        self, store: Store, trail: AuditTrail, waited: Any
    ) -> None:
        """A Keystone that 404s everything makes every live user look gone: keep waiting."""
        cloud, tombstone = waited
        cloud.conn = Listings(servers=[obj(id="s1", project_id="a"), obj(id="s2", project_id="b")])
        cloud.inventory.resources = [network(used=False)]
        held = sweep.Sweeper(
            dataclasses.replace(Settings(), sweep_max_orphans=1),
            store=store,
            trail=trail,
            cloud=cloud.seams,
        )
        assert held.sweep_once() == 0
        assert store.tombstones.get(tombstone.id).state is TombstoneState.WAITING

    def test_the_metric_counts_what_waits(self, store: Store, waited: Any) -> None:
        metrics = Metrics()
        metrics.observe_kept(waitlist.Census(store))
        value = metrics.registry.get_sample_value(
            "reaper_kept_for_live_use", {"resource_type": "network.network"}
        )
        assert value == 1.0
