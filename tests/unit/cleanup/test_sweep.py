"""The sweep: owners Keystone no longer lists, verified one by one, opened and audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup import batchverify, census, sweep
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityState, VerificationError
from reaper.metrics import Metrics
from reaper.model import (
    IdentityKind,
    IdentityRef,
    TombstoneState,
    Trigger,
    TriggerSource,
    utcnow,
)
from reaper.planner import build_plan
from reaper.policy import PolicySet, evaluate
from reaper.store import Known, Store
from tests.unit.pagesource import PageSource

from .fakes import FakeCloud, Keystone, server, unreachable

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.timezone.utc)
OLD = "2026-05-01T00:00:00Z"
ORPHAN = IdentityRef(IdentityKind.PROJECT, "p-gone")


def obj(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(**{"created_at": OLD, "user_id": None, **fields})


#: Where each kind is listed (service, path, key), and the raw fields of its owners.
SERVED = {
    "servers": ("compute", "/servers/detail", "servers", "tenant_id", "user_id"),
    "volumes": (
        "block_storage",
        "/volumes/detail",
        "volumes",
        "os-vol-tenant-attr:tenant_id",
        "user_id",
    ),
    "snapshots": (
        "block_storage",
        "/snapshots/detail",
        "snapshots",
        "os-extended-snapshot-attributes:project_id",
        None,
    ),
    "networks": ("network", "/networks", "networks", "project_id", None),
    "ports": ("network", "/ports", "ports", "project_id", None),
    "floating_ips": ("network", "/floatingips", "floatingips", "project_id", None),
    "routers": ("network", "/routers", "routers", "project_id", None),
    "images": ("image", "/images", "images", "owner", None),
}


def raw(kind: str, item: SimpleNamespace) -> dict[str, Any]:
    """``item`` as the service's JSON spells it (Nova says ``created``, the rest ``created_at``)."""
    *_, project, user = SERVED[kind]
    fields = vars(item)
    when = fields.get("created_at")
    body = {
        "id": fields["id"],
        project: fields.get("owner" if kind == "images" else "project_id"),
        "created" if kind == "servers" else "created_at": (
            when.isoformat() if isinstance(when, dt.datetime) else when
        ),
    }
    if user:
        body[user] = fields.get("user_id")
    if "status" in fields:
        body["status"] = fields["status"]
    return body


class Listings:
    """A cloud-wide view: one live project, and what the listings return, as raw pages."""

    def __init__(self, **items: list[Any]) -> None:
        live = [{"id": "p-live", "domain_id": "default", "name": "live"}]
        self.identity = PageSource(
            "keystone",
            {
                "/projects": ("projects", live),
                "/domains": ("domains", [{"id": "default", "name": "Default"}]),
                "/users": ("users", [{"id": "u-live", "domain_id": "default", "name": "alice"}]),
            },
        )
        served: dict[str, dict[str, tuple[str, list]]] = {}
        for kind, (service, path, key, *_) in SERVED.items():
            rows = [raw(kind, i) for i in items.get(kind, [])]
            served.setdefault(service, {})[path] = (key, rows)
        self.compute = PageSource("nova", served["compute"])
        self.block_storage = PageSource("nova", served["block_storage"])
        self.network = PageSource("nova", served["network"])
        self.image = PageSource("glance", served["image"])


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
        cloud.conn.identity.broken[("/projects", 0)] = ConnectionError("down")
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
    cloud.conn.identity.broken[("/projects", 0)] = ConnectionError("down")
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


CHANGE_FILTERS = {"changes-since", "updated_at", "changed_since"}


class TestTheSweepByDifference:
    """Between full scans a sweep costs Keystone's lists and what changed, not the cloud."""

    GONE = IdentityRef(IdentityKind.PROJECT, "p-was-alive")

    def sweeper(self, store: Store, trail: AuditTrail, cloud: FakeCloud) -> sweep.Sweeper:
        return sweep.Sweeper(Settings(), store=store, trail=trail, cloud=cloud.seams)

    def resource_requests(self, cloud: FakeCloud) -> int:
        conn = cloud.conn
        return sum(len(s.requests) for s in (conn.compute, conn.block_storage, conn.network))

    def test_a_project_seen_alive_that_keystone_no_longer_lists_gets_a_cleanup(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(Keystone())
        sweeper = self.sweeper(store, trail, cloud)
        sweeper.sweep_once()  # the start-up's full scan
        store.directory.record([Known(self.GONE, "default", "was-alive")])
        conn = cloud.conn
        sources = (conn.compute, conn.block_storage, conn.network)
        scanned = [len(source.requests) for source in sources]
        assert sweeper.sweep_once() == 1
        since = [
            q for n, source in zip(scanned, sources, strict=True) for _, q in source.requests[n:]
        ]
        # Only what changed since the start-up's scan is listed again: one filtered listing
        # each (this fake ignores the filters, so each still holds a page).
        assert [sorted(set(q) & CHANGE_FILTERS) for q in since] == [
            ["changes-since"],
            ["updated_at"],
        ]
        assert conn.block_storage.microversions[-1] == "3.60"
        tombstone = store.tombstones.find(self.GONE)
        assert tombstone is not None and tombstone.triggers[0].source is TriggerSource.SWEEP
        reasons = [
            json.loads(r.body)["reason"]["reasonCode"] for r in AuditRepository(store.db).records()
        ]
        assert "reaper saw project:p-was-alive alive and Keystone no longer lists it" in reasons[-1]

    def test_a_vanished_identity_whose_deletion_is_taken_up_is_not_asked_about_again(
        self, store: Store, trail: AuditTrail
    ) -> None:
        keystone = Keystone()
        cloud = cloud_with(keystone)
        store.directory.record([Known(self.GONE, "default")])
        sweeper = self.sweeper(store, trail, cloud)
        assert sweeper.sweep_once() == 1
        asked = len(keystone.asked)
        assert sweeper.sweep_once() == 0
        assert len(keystone.asked) == asked

    def test_vanished_owners_whose_batch_witness_fails_stay_unopened(
        self, store: Store, trail: AuditTrail
    ) -> None:
        """Keystone's 404s, but reaper's own account not found around them: nothing is gone."""
        keystone = Keystone()
        store.directory.record([Known(self.GONE, "default")])

        def witness() -> None:
            raise VerificationError("reaper's own user not found")

        def seams() -> Cloud:
            return dataclasses.replace(
                cloud.seams(),
                keystone_many=lambda ids: batchverify.verify_many(keystone, witness, ids),
            )

        cloud = cloud_with(keystone)
        sweeper = sweep.Sweeper(Settings(), store=store, trail=trail, cloud=seams)
        assert sweeper.sweep_once() == 0
        assert store.tombstones.find(self.GONE) is None
        assert keystone.asked == []  # the first witness failed: nobody was asked

    def test_one_keystone_still_has_is_left_alone(self, store: Store, trail: AuditTrail) -> None:
        """Created after Keystone's list was read, say: the 404 check still decides."""
        cloud = cloud_with(Keystone({self.GONE: IdentityState.ENABLED}))
        store.directory.record([Known(self.GONE, "default")])
        assert self.sweeper(store, trail, cloud).sweep_once() == 0
        assert store.tombstones.find(self.GONE) is None

    def test_a_full_scan_comes_again_once_its_interval_has_passed(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(Keystone())
        sweeper = self.sweeper(store, trail, cloud)
        clock = [1000.0]
        sweeper.clock = lambda: clock[0]
        assert sweeper.survey(cloud.seams()).full
        clock[0] += 3600
        assert not sweeper.survey(cloud.seams()).full
        clock[0] += 86400
        assert sweeper.survey(cloud.seams()).full

    def test_a_listing_that_breaks_off_is_named_its_pages_still_count_and_the_scan_is_redone(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(
            Keystone(),
            servers=[obj(id="s1", project_id="p-gone")],
            ports=[obj(id="port1", project_id="p-gone-2")],
        )
        cloud.conn.network.broken[("/ports", 0)] = ConnectionError("neutron down")
        sweeper = self.sweeper(store, trail, cloud)
        found = sweeper.survey(cloud.seams())
        assert found.incomplete == ("ports",)
        assert [o.identity.id for o in found.orphans] == ["p-gone"]
        assert sweeper.full_scan_due()

    def changed_since(self, cloud: FakeCloud) -> dt.datetime:
        """The time the last servers listing asked for what changed since."""
        _, query = cloud.conn.compute.requests[-1]
        return dt.datetime.fromisoformat(query["changes-since"].replace("Z", "+00:00"))

    def test_between_full_scans_the_owners_of_what_changed_are_found(
        self, store: Store, trail: AuditTrail
    ) -> None:
        """A project reaper never saw, created and deleted while it heard nothing."""
        cloud = cloud_with(Keystone())
        sweeper = self.sweeper(store, trail, cloud)
        before = utcnow()
        assert sweeper.survey(cloud.seams()).full  # start-up: nothing of p-gone yet
        after = utcnow()
        cloud.conn.compute.lists["/servers/detail"] = (
            "servers",
            [raw("servers", obj(id="s1", project_id="p-gone"))],
        )

        found = sweeper.survey(cloud.seams())

        assert not found.full and [o.identity for o in found.orphans] == [ORPHAN]
        since = self.changed_since(cloud)
        margin = sweep.CHANGES_MARGIN + Settings().sweep_min_age
        assert found.since is not None and found.since.replace(microsecond=0) == since
        assert before - margin - dt.timedelta(seconds=1) <= since <= after - margin

    def test_what_the_last_scan_passed_over_as_too_young_is_listed_again(
        self, store: Store, trail: AuditTrail
    ) -> None:
        """A server 30 minutes old, under a 1-hour minimum age, is counted by a later sweep."""
        cloud = cloud_with(Keystone())
        settings = Settings(sweep_min_age=dt.timedelta(hours=1))
        sweeper = sweep.Sweeper(settings, store=store, trail=trail, cloud=cloud.seams)
        started = utcnow()
        sweeper.survey(cloud.seams())
        young = started - dt.timedelta(minutes=30)  # changed then, too young at that scan
        sweeper.survey(cloud.seams())
        assert self.changed_since(cloud) <= young - sweep.CHANGES_MARGIN

    def test_a_changed_scan_that_breaks_off_reaches_back_as_far_next_time(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(Keystone())
        sweeper = self.sweeper(store, trail, cloud)
        sweeper.survey(cloud.seams())
        cloud.conn.block_storage.broken[("/volumes/detail", 1)] = ConnectionError("cinder down")
        broken = sweeper.survey(cloud.seams())
        assert broken.incomplete == ("volumes",)
        again = sweeper.survey(cloud.seams())
        assert again.incomplete == () and again.since == broken.since
        later = sweeper.survey(cloud.seams())
        assert later.since is not None and broken.since is not None
        assert later.since > broken.since

    def test_servers_nova_lists_as_deleted_since_then_own_nothing(
        self, store: Store, trail: AuditTrail
    ) -> None:
        cloud = cloud_with(Keystone())
        sweeper = self.sweeper(store, trail, cloud)
        sweeper.survey(cloud.seams())
        gone = obj(id="s1", project_id="p-gone", status="DELETED")
        cloud.conn.compute.lists["/servers/detail"] = ("servers", [raw("servers", gone)])
        assert sweeper.survey(cloud.seams()).orphans == []

    def test_listings_with_no_working_filter_for_what_changed_wait_for_the_full_scan(self) -> None:
        cloud = cloud_with(Keystone(), snapshots=[obj(id="sn1", project_id="p-gone")])
        counted = census.owners(
            cloud.conn, projects=frozenset(), users=frozenset(), cutoff=NOW, since=NOW
        )
        network = ("networks", "ports", "floating_ips", "routers")
        assert counted.skipped == ("snapshots", *network) and counted.incomplete == ()
        assert [p for p, _ in cloud.conn.block_storage.requests] == ["/volumes/detail"]
        assert counted.owned == {}

    def test_a_keystone_list_that_cannot_be_read_whole_fails_the_sweep(
        self, store: Store, trail: AuditTrail
    ) -> None:
        """A truncated project list would make every project it left out look vanished."""
        cloud = cloud_with(Keystone())
        store.directory.record([Known(self.GONE, "default")])
        cloud.conn.identity.truncated = True
        assert self.sweeper(store, trail, cloud).sweep_once() == 0
        assert store.tombstones.find(self.GONE) is None


class TestAKeystoneThatPages:
    """keystone 30 returns at most ``max_db_limit`` identities to a list asked without ``limit``,
    and says nothing: every identity past the cap would look vanished."""

    def cloud(self, keystone: Keystone) -> FakeCloud:
        cloud = cloud_with(keystone)
        projects = [{"id": f"p{i}", "domain_id": "default", "name": f"n{i}"} for i in range(5)]
        cloud.conn.identity.lists["/projects"] = ("projects", projects)
        cloud.conn.identity.max_db_limit = 2
        return cloud

    def test_the_sweep_reads_every_page_of_keystones_lists(self) -> None:
        found = census.keystone_identities(self.cloud(Keystone()).conn)
        assert sorted(k.identity.id for k in found if k.identity.kind is IdentityKind.PROJECT) == [
            f"p{i}" for i in range(5)
        ]

    def test_no_identity_past_the_cap_is_taken_for_vanished(
        self, store: Store, trail: AuditTrail
    ) -> None:
        keystone = Keystone()
        store.directory.record([Known(IdentityRef(IdentityKind.PROJECT, "p4"), "default")])
        sweeper = sweep.Sweeper(
            Settings(), store=store, trail=trail, cloud=self.cloud(keystone).seams
        )
        sweeper.last_full = sweeper.clock()  # a sweep by difference
        assert sweeper.sweep_once() == 0
        assert keystone.asked == []


def test_the_directory_offers_only_identities_whose_deletion_is_not_taken_up(
    store: Store,
) -> None:
    untouched, refused, taken = (IdentityRef(IdentityKind.PROJECT, p) for p in "abc")
    store.directory.record([Known(i, "default") for i in (untouched, refused, taken)])
    store.tombstones.record_trigger(taken, Trigger(TriggerSource.NOTIFICATION, "x"))
    made = store.tombstones.record_trigger(refused, Trigger(TriggerSource.NOTIFICATION, "x"))
    store.tombstones.transition(made.tombstone.id, TombstoneState.REFUSED)
    assert sorted(store.directory.unsettled()) == [untouched, refused]
