"""Reclaim: a project's usage read before its plan first runs and after each run.

The worker, store, trail and metrics are real; the usage seam is scripted to
answer as the services would (Placement's VCPU falling as servers go).
"""

from __future__ import annotations

import json
from collections.abc import Collection

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup import reclaim
from reaper.cleanup.early import NOVA_REFUSES
from reaper.cleanup.worker import Worker
from reaper.metrics import Metrics
from reaper.model import IdentityKind, IdentityRef, TombstoneState, Trigger, TriggerSource
from reaper.policy import PolicySet
from reaper.reclaim import READERS, Usage
from reaper.store import Known, Store

from .fakes import PROJECT, FakeCloud, server
from .test_worker import SETTINGS


class ScriptedUsage:
    """Answers with the next figures of a script (the last one repeats)."""

    def __init__(self, *answers: dict[str, float]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        #: The services each reading was limited to (``None``: all).
        self.services: list[frozenset[str] | None] = []

    def __call__(self, project_id: str, services: Collection[str] | None = None) -> Usage:
        self.asked.append(project_id)
        self.services.append(None if services is None else frozenset(services))
        figures = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if services is not None:
            figures = {k: v for k, v in figures.items() if k.split(".")[0] in services}
        unavailable = {"compute": "BadRequestException: project not found"}
        return Usage(figures, unavailable if services is None or "compute" in services else {})


FULL = {"placement.VCPU": 3, "placement.MEMORY_MB": 320, "block_storage.gigabytes": 3}
EMPTY = {"placement.VCPU": 0, "placement.MEMORY_MB": 0, "block_storage.gigabytes": 0}


def run(store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet, metrics: Metrics):
    worker = Worker(
        SETTINGS,
        store=store,
        trail=trail,
        cloud=cloud.seams,
        policies=lambda: policies,
        metrics=metrics,
    )
    claimed = store.tombstones.claim_next("worker-1")
    assert claimed is not None
    return worker.process(claimed)


def notified(store: Store, identity: IdentityRef = PROJECT, message_id: str = "m-1") -> None:
    store.directory.record([Known(identity, None)])  # reaper saw it alive before
    store.tombstones.record_trigger(
        identity,
        Trigger(
            source=TriggerSource.NOTIFICATION,
            event_type=f"identity.{identity.kind.value}.deleted",
            message_id=message_id,
        ),
    )


def reclaimed_records(store: Store) -> list[dict]:
    bodies = [json.loads(r.body) for r in AuditRepository(store.db).records()]
    return [b for b in bodies if b.get("reason", {}).get("reasonCode", "").startswith("reclaimed")]


def counter(metrics: Metrics, resource: str) -> float:
    value = metrics.registry.get_sample_value("reaper_reclaimed_total", {"resource": resource})
    return value or 0.0


def test_a_completed_cleanup_records_audits_and_counts_what_it_gave_back(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet, monkeypatch
) -> None:
    monkeypatch.setattr(reclaim.time, "sleep", lambda _: None)
    cloud.inventory.resources = [server("s1")]
    cloud.usage = ScriptedUsage(FULL, EMPTY)
    notified(store)
    metrics = Metrics()

    done = run(store, trail, cloud, policies, metrics)

    assert done.state is TombstoneState.COMPLETE
    record = store.reclaim.get(done.id)
    assert record is not None and record.after is not None
    assert record.before["figures"] == FULL
    assert record.after["figures"] == EMPTY
    [audited] = reclaimed_records(store)
    assert audited["reason"]["reasonCode"] == (
        "reclaimed: block_storage.gigabytes 3, placement.MEMORY_MB 320, placement.VCPU 3"
    )
    assert audited["reaper"]["tombstone_id"] == done.id
    assert counter(metrics, "placement.VCPU") == 3
    assert counter(metrics, "placement.MEMORY_MB") == 320


def test_a_retried_cleanup_keeps_the_first_reading_and_counts_each_amount_once(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet, monkeypatch
) -> None:
    monkeypatch.setattr(reclaim.time, "sleep", lambda _: None)
    cloud.inventory.resources = [server("s1"), server("s2")]
    half = {"placement.VCPU": 1, "placement.MEMORY_MB": 128, "block_storage.gigabytes": 3}
    # before; after the failed run (twice: settled); before is not read again; after.
    cloud.usage = ScriptedUsage(FULL, half, half, EMPTY)
    cloud.results["delete:compute.server:s2"] = RuntimeError("Nova said no")
    notified(store)
    metrics = Metrics()

    first = run(store, trail, cloud, policies, metrics)
    assert first.state is TombstoneState.PARTIAL, first.reason
    assert counter(metrics, "placement.VCPU") == 2
    cloud.results.clear()
    store.tombstones.transition(first.id, first.state, next_attempt_at=None)
    second = run(store, trail, cloud, policies, metrics)

    assert second.state is TombstoneState.COMPLETE
    assert store.reclaim.get(second.id).before["figures"] == FULL
    assert counter(metrics, "placement.VCPU") == 3
    assert counter(metrics, "block_storage.gigabytes") == 3
    assert [
        r["reaper"]["extra"]["reclaimed"]["placement.VCPU"] for r in reclaimed_records(store)
    ] == [2, 3]


def test_a_service_that_fails_on_a_later_reading_is_not_counted_twice(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet, monkeypatch
) -> None:
    monkeypatch.setattr(reclaim.time, "sleep", lambda _: None)
    cloud.inventory.resources = [server("s1"), server("s2")]
    no_placement = {"block_storage.gigabytes": 0}
    # before; after the failed run; placement down on the next; back on the last.
    cloud.usage = ScriptedUsage(FULL, EMPTY, EMPTY, no_placement, no_placement, EMPTY)
    cloud.results["delete:compute.server:s2"] = RuntimeError("Nova said no")
    notified(store)
    metrics = Metrics()

    for _ in range(3):
        done = run(store, trail, cloud, policies, metrics)
        store.tombstones.transition(done.id, TombstoneState.PARTIAL, next_attempt_at=None)

    assert counter(metrics, "placement.VCPU") == 3
    assert store.reclaim.get(done.id).after["figures"] == EMPTY


def test_a_reading_after_asks_only_the_services_the_reading_before_could_read(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    """Nova refuses a deleted project's quotas: not asked before (early.py), nor after."""
    cloud.inventory.resources = [server("s1")]
    cloud.usage = ScriptedUsage(FULL, EMPTY)
    notified(store)

    done = run(store, trail, cloud, policies, Metrics())

    assert done.state is TombstoneState.COMPLETE
    every_but_nova = {name for name, _, _ in READERS} - {"compute"}
    assert cloud.usage.services[0] == every_but_nova
    kept = store.reclaim.get(done.id)
    assert kept is not None and kept.before["unavailable"] == {"compute": NOVA_REFUSES}
    assert cloud.usage.services[1:] and set(cloud.usage.services[1:]) == {
        frozenset({"placement", "block_storage"})
    }
    (record,) = reclaimed_records(store)
    assert record["reaper"]["extra"]["reclaimed"]["placement.VCPU"] == 3


def test_users_are_not_measured_and_a_cloud_without_the_seam_is_not_either(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    cloud.usage = ScriptedUsage(FULL)
    notified(store, IdentityRef(IdentityKind.USER, "u-deleted"))

    done = run(store, trail, cloud, policies, Metrics())

    assert cloud.usage.asked == []
    assert store.reclaim.get(done.id) is None


def test_a_usage_api_that_fails_never_fails_the_cleanup(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    def broken(project_id: str) -> Usage:
        raise RuntimeError("store on fire")

    cloud.inventory.resources = [server("s1")]
    cloud.usage = broken
    notified(store)

    done = run(store, trail, cloud, policies, Metrics())

    assert done.state is TombstoneState.COMPLETE
    assert store.reclaim.get(done.id) is None
    assert reclaimed_records(store) == []


def test_after_is_read_until_two_readings_agree() -> None:
    readings = iter([{"placement.VCPU": 1}, {"placement.VCPU": 0}, {"placement.VCPU": 0}])
    slept: list[float] = []

    settled = reclaim.settled(lambda: Usage(next(readings)), slept.append)

    assert settled.figures == {"placement.VCPU": 0}
    assert slept == [1.0, 1.0]


def test_a_reading_with_nothing_left_is_final_at_once() -> None:
    slept: list[float] = []

    settled = reclaim.settled(lambda: Usage({"placement.VCPU": 0, "network.port": 1}), slept.append)

    assert settled.figures == {"placement.VCPU": 0, "network.port": 1}
    assert slept == []
