"""The sweep: owners Keystone no longer lists, verified one by one, opened and audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup import sweep
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityState
from reaper.metrics import Metrics
from reaper.model import IdentityKind, IdentityRef, TombstoneState, Trigger, TriggerSource
from reaper.planner import build_plan
from reaper.policy import PolicySet, evaluate
from reaper.store import Store

from .fakes import FakeCloud, Keystone, server, unreachable

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
OLD = "2026-05-01T00:00:00Z"
ORPHAN = IdentityRef(IdentityKind.PROJECT, "p-gone")


def obj(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(**{"created_at": OLD, "user_id": None, **fields})


class Listings:
    """A cloud-wide view: one live project, and what the listings return."""

    def __init__(self, **items: list[Any]) -> None:
        self.items = items
        live = [obj(id="p-live", domain_id="default", name="live")]
        self.identity = SimpleNamespace(
            projects=lambda: live,
            domains=lambda: [obj(id="default")],
            users=lambda: [obj(id="u-live", domain_id="default", name="alice")],
        )
        self.compute = SimpleNamespace(servers=self._of("servers"))
        self.block_storage = SimpleNamespace(
            volumes=self._of("volumes"), snapshots=self._of("snapshots")
        )
        self.network = SimpleNamespace(
            networks=self._of("networks"),
            ports=self._of("ports"),
            ips=self._of("floating_ips"),
            routers=self._of("routers"),
        )
        self.image = SimpleNamespace(images=self._of("images"))

    def _of(self, kind: str) -> Any:
        return lambda **_: list(self.items.get(kind, []))


def cloud_with(keystone: Keystone, **items: list[Any]) -> FakeCloud:
    return FakeCloud(keystone=keystone, conn=Listings(**items))


def test_owners_keystone_does_not_list_and_says_are_gone_are_orphans() -> None:
    cloud = cloud_with(
        Keystone(),
        servers=[obj(id="s1", project_id="p-gone"), obj(id="s2", project_id="p-live")],
        volumes=[obj(id="v1", project_id="p-gone", user_id="u-gone")],
    )
    found = sweep.find_orphans(cloud.seams(), now=NOW)
    assert [(o.identity, o.resources, o.examples) for o in found.orphans] == [
        (ORPHAN, 2, ("servers:s1", "volumes:v1")),
        (IdentityRef(IdentityKind.USER, "u-gone"), 1, ("volumes:v1",)),
    ]
    assert [k.identity.id for k in found.known] == ["p-live", "u-live", "default"]


def test_an_owner_keystone_still_has_or_cannot_answer_for_is_no_orphan() -> None:
    keystone = Keystone(
        {ORPHAN: IdentityState.ENABLED, IdentityRef(IdentityKind.PROJECT, "p-x"): unreachable()}
    )
    cloud = cloud_with(
        keystone,
        servers=[obj(id="s1", project_id="p-gone"), obj(id="s2", project_id="p-x")],
    )
    assert sweep.find_orphans(cloud.seams(), now=NOW).orphans == []


def test_young_resources_are_not_counted() -> None:
    cloud = cloud_with(Keystone(), servers=[obj(id="s1", project_id="p-gone", created_at=NOW)])
    found = sweep.find_orphans(cloud.seams(), min_age=dt.timedelta(hours=1), now=NOW)
    assert found.orphans == []


class TestTheControllersSweeper:
    def sweeper(self, store: Store, trail: AuditTrail, cloud: FakeCloud) -> sweep.Sweeper:
        woken: list[bool] = []
        made = sweep.Sweeper(
            Settings(),
            store=store,
            trail=trail,
            cloud=cloud.seams,
            on_opened=lambda: woken.append(True),
        )
        made.woken = woken  # type: ignore[attr-defined]
        return made

    def test_it_opens_a_tombstone_per_orphan_records_why_and_wakes_the_workers(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(Keystone(), servers=[obj(id="s1", project_id="p-gone")])
        sweeper = self.sweeper(store, trail, cloud)
        assert sweeper.sweep_once() == 1
        tombstone = store.tombstones.find(ORPHAN)
        assert tombstone is not None and tombstone.state is TombstoneState.RECEIVED
        assert tombstone.triggers[0].source is TriggerSource.SWEEP
        assert tombstone.triggers[0].event_type == "identity.project.deleted"
        [record] = [json.loads(r.body) for r in AuditRepository(store.db).records()]
        assert record["target"]["id"] == "p-gone"
        assert record["reason"]["reasonCode"].startswith("sweep: 1 resources")
        assert sweeper.woken == [True]  # type: ignore[attr-defined]
        assert [k.identity.id for k in store.directory.in_domain("default")] == [
            "p-live",
            "u-live",
        ]

    def test_an_orphan_already_known_is_not_opened_or_recorded_again(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(Keystone(), servers=[obj(id="s1", project_id="p-gone")])
        sweeper = self.sweeper(store, trail, cloud)
        sweeper.sweep_once()
        assert sweeper.sweep_once() == 0
        assert AuditRepository(store.db).count() == 1

    def test_a_failed_sweep_is_logged_and_opens_nothing(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(Keystone(), servers=[obj(id="s1", project_id="p-gone")])
        cloud.conn.identity.projects = lambda: (_ for _ in ()).throw(ConnectionError("down"))
        assert self.sweeper(store, trail, cloud).sweep_once() == 0
        assert store.tombstones.find(ORPHAN) is None

    def test_its_minimum_age_comes_from_the_settings(self, store: Store, trail: AuditTrail) -> None:
        young = obj(id="s1", project_id="p-gone", created_at=dt.datetime.now(dt.timezone.utc))
        cloud = cloud_with(Keystone(), servers=[young])
        sweeper = self.sweeper(store, trail, cloud)
        sweeper.settings = dataclasses.replace(Settings(), sweep_min_age=dt.timedelta(hours=1))
        assert sweeper.sweep_once() == 0


class TestACompletedCleanupWhoseOwnerStillOwnsResources:
    """The sweep reopens a completed deletion that left something behind (issue 13, item 3)."""

    def completed(self, store: Store, policies: PolicySet, keep: str | None = None) -> str:
        """A cleanup of ``p-gone`` that completed, deciding to leave ``keep`` alone."""
        resources = [server(keep, project=ORPHAN.id, tags=["reaper:keep"])] if keep else []
        trigger = "identity.project.deleted"
        ctx = Settings().context(trigger, ORPHAN, now=NOW)
        decisions = evaluate(policies, resources, ctx).decisions
        plan = build_plan(ORPHAN, resources, decisions, trigger=trigger, now=NOW)
        store.plans.save(plan)
        result = store.tombstones.record_trigger(
            ORPHAN, Trigger(source=TriggerSource.NOTIFICATION, event_type="x", message_id="m")
        )
        store.tombstones.transition(
            result.tombstone.id, TombstoneState.COMPLETE, plan_hash=plan.content_hash
        )
        return result.tombstone.id

    def test_a_resource_still_owned_reopens_it(
        self, store: Store, trail: AuditTrail, policies: PolicySet
    ) -> None:
        tid = self.completed(store, policies)
        cloud = cloud_with(Keystone(), servers=[obj(id="s-missed", project_id="p-gone")])
        TestTheControllersSweeper().sweeper(store, trail, cloud).sweep_once()
        reopened = store.tombstones.get(tid)
        assert reopened.state is TombstoneState.RECEIVED
        assert "s-missed" in (reopened.reason or "")

    def test_what_the_plan_chose_to_leave_does_not(
        self, store: Store, trail: AuditTrail, policies: PolicySet
    ) -> None:
        tid = self.completed(store, policies, keep="s-kept")
        cloud = cloud_with(Keystone(), servers=[obj(id="s-kept", project_id="p-gone")])
        TestTheControllersSweeper().sweeper(store, trail, cloud).sweep_once()
        assert store.tombstones.get(tid).state is TombstoneState.COMPLETE


def test_the_controllers_bootstrap_teaches_the_directory_who_is_alive(store: Store) -> None:
    """Before the first deletion is judged (issue 13, item 10), whether or not sweeps run."""
    sweep.Bootstrap(store, cloud_with(Keystone()).seams).start()
    live = store.directory.get(IdentityRef(IdentityKind.PROJECT, "p-live"))
    assert live is not None and (live.domain_id, live.source) == ("default", "sweep")
    assert store.directory.get(IdentityRef(IdentityKind.USER, "u-live")) is not None
    assert store.directory.get(IdentityRef(IdentityKind.DOMAIN, "default")) is not None


def test_a_bootstrap_keystone_cannot_answer_does_not_stop_the_controller(store: Store) -> None:
    cloud = cloud_with(Keystone())
    cloud.conn.identity.projects = lambda: (_ for _ in ()).throw(ConnectionError("down"))
    sweep.Bootstrap(store, cloud.seams).start()
    assert store.directory.get(IdentityRef(IdentityKind.PROJECT, "p-live")) is None


class TestASweepFindingTooManyOrphans:
    """Held for an operator, with an alert: a Keystone saying 404 to all (issue 13, item 7)."""

    def sweeper(self, store: Store, trail: AuditTrail, settings: Settings) -> sweep.Sweeper:
        cloud = cloud_with(
            Keystone(),
            servers=[obj(id="s1", project_id="p-gone"), obj(id="s2", project_id="p-gone-2")],
        )
        return sweep.Sweeper(
            settings, store=store, trail=trail, cloud=cloud.seams, metrics=Metrics()
        )

    def test_more_than_max_orphans_opens_nothing_alerts_counts_and_audits(
        self, store: Store, trail: AuditTrail
    ) -> None:
        sweeper = self.sweeper(store, trail, Settings(sweep_max_orphans=1))
        assert sweeper.sweep_once() == 0
        assert store.tombstones.list() == []
        assert sweeper.metrics.sweeps_held._value.get() == 1
        [record] = [json.loads(r.body) for r in AuditRepository(store.db).records()]
        assert record["outcome"] == "failure"
        assert "max_orphans = 1" in record["reason"]["reasonCode"]

    def test_more_than_a_fraction_of_keystones_projects_opens_nothing(
        self, store: Store, trail: AuditTrail
    ) -> None:
        """Two orphans beside one live project: 200 % of the projects Keystone lists."""
        sweeper = self.sweeper(store, trail, Settings(sweep_max_orphan_fraction=0.5))
        assert sweeper.sweep_once() == 0
        assert store.tombstones.list() == []

    def test_within_the_limits_every_orphan_is_opened(
        self, store: Store, trail: AuditTrail
    ) -> None:
        settings = Settings(sweep_max_orphans=2, sweep_max_orphan_fraction=0.0)
        assert self.sweeper(store, trail, settings).sweep_once() == 2
