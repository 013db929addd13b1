"""The worker: one claimed tombstone, taken as far as it goes, through injected seams.

Keystone, the inventory and the runner are scripted (``fakes``); the store,
the audit trail, the policies, the planner and the executor are real.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import IdentityState, Verification
from reaper.cleanup.worker import Worker
from reaper.executor import Limits, Transient
from reaper.inventory.base import Finding
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Tombstone,
    TombstoneState,
    Trigger,
    TriggerSource,
    trigger_name,
)
from reaper.policy import PolicySet
from reaper.store import Store
from reaper.store.directory import Known

from .fakes import PROJECT, CountingPlans, FakeCloud, Keystone, server, unreachable

FAST = Limits(
    retry_attempts=2,
    retry_initial_wait=0.001,
    retry_max_wait=0.002,
    confirm_interval=0.001,
    confirm_max_interval=0.002,
)
SETTINGS = Settings(owner="worker-1", limits=FAST)


def worker(
    store: Store,
    trail: AuditTrail,
    cloud: FakeCloud,
    policies: PolicySet,
    settings: Settings = SETTINGS,
) -> Worker:
    return Worker(
        settings,
        store=store,
        trail=trail,
        cloud=cloud.seams,
        policies=lambda: policies,
    )


def notified(
    store: Store,
    identity: IdentityRef = PROJECT,
    *,
    disabled: bool = False,
    seen: bool = True,
    domain: str | None = None,
) -> None:
    """A notification for ``identity``, which reaper saw alive earlier (``seen``) in ``domain``."""
    if seen:
        store.directory.record([Known(identity, domain)])
    event = f"identity.{identity.kind.value}.{'updated' if disabled else 'deleted'}"
    store.tombstones.record_trigger(
        identity, Trigger(source=TriggerSource.NOTIFICATION, event_type=event, message_id="m-1")
    )


def actions(store: Store) -> list[tuple[str, str, str]]:
    bodies = [json.loads(r.body) for r in AuditRepository(store.db).records()]
    return [(b["action"], b["outcome"], b["target"]["typeURI"]) for b in bodies]


def claimed(store: Store) -> Tombstone:
    found = store.tombstones.claim_next("worker-1")
    assert found is not None
    return found


class TestANewTombstone:
    def test_a_verified_deletion_is_planned_executed_and_completed(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1"), server("s2", tags=["reaper:keep"])]
        notified(store)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None
        assert done.state is TombstoneState.COMPLETE
        assert done.claimed_by is None
        assert cloud.ran == ["delete:compute.server:s1"]
        assert cloud.keystone.asked == [PROJECT]
        plan = store.plans.load(done.plan_hash or "")
        assert plan.trigger == trigger_name(IdentityKind.PROJECT)
        assert cloud.plan_hashes == [plan.content_hash]  # what evidence copies are named after
        assert store.plans.outcomes(plan.content_hash)["delete:compute.server:s1"].status.value == (
            "done"
        )

    def test_the_plan_made_is_stored_once_and_never_read_back(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store)
        counting = CountingPlans(store.plans)
        store.plans = counting  # type: ignore[assignment]
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert sum(counting.loads.values()) == 0
        # One discovery: the plan's own, no re-check of a plan made moments ago.
        assert len(cloud.inventory.scopes) == 1

    def test_a_live_identity_is_refused_and_nothing_is_discovered(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.keystone.answers[PROJECT] = IdentityState.ENABLED
        cloud.inventory.resources = [server("s1")]
        notified(store)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.REFUSED
        assert "still exists and is enabled" in done.reason
        assert cloud.inventory.scopes == [] and cloud.ran == []
        assert ("read", "failure", "data/security/project") in actions(store)
        assert AuditRepository(store.db).latest_checkpoint() is not None

    def test_an_unreachable_keystone_means_later_never_act(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.keystone.answers[PROJECT] = unreachable()
        notified(store)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None
        assert done.state is TombstoneState.RECEIVED
        assert done.next_attempt_at is not None and done.claimed_by is None
        assert "Keystone unreachable" in done.reason
        assert cloud.inventory.scopes == [] and cloud.ran == []

    def test_a_dry_run_controller_holds_every_plan_for_an_operator(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store)
        settings = dataclasses.replace(SETTINGS, dry_run=True)
        done = worker(store, trail, cloud, policies, settings).work_once()
        assert done is not None and done.state is TombstoneState.HELD
        assert "dry-run mode" in done.reason and f"reaper approve {done.id}" in done.reason
        assert cloud.ran == []

    def test_a_protected_project_is_planned_but_not_touched(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store)
        settings = dataclasses.replace(SETTINGS, protected_project_ids=frozenset({PROJECT.id}))
        done = worker(store, trail, cloud, policies, settings).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert cloud.ran == []

    def test_a_row_left_verified_by_an_older_reaper_is_worked_on_as_received(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store)
        tombstone = store.tombstones.find(PROJECT)
        assert tombstone is not None
        store.tombstones.transition(tombstone.id, TombstoneState.VERIFIED)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert cloud.ran == ["delete:compute.server:s1"]


class TestResuming:
    def approved(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> Tombstone:
        """A plan a dry-run controller held, then an operator approved."""
        notified(store)
        settings = dataclasses.replace(SETTINGS, dry_run=True)
        held = worker(store, trail, cloud, policies, settings).work_once()
        assert held is not None and held.state is TombstoneState.HELD
        return store.tombstones.transition(held.id, TombstoneState.PLANNED)

    def test_an_approved_plan_is_loaded_once_verified_again_and_rechecked(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1"), server("s2")]
        self.approved(store, trail, cloud, policies)
        cloud.inventory.resources = [server("s1")]  # s2 went meanwhile
        cloud.keystone.asked.clear()
        counting = CountingPlans(store.plans)
        store.plans = counting  # type: ignore[assignment]
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert list(counting.loads.values()) == [1]
        assert cloud.keystone.asked == [PROJECT]
        assert cloud.ran == ["delete:compute.server:s1"]

    def stopped(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> Tombstone:
        """A plan the controller was executing when it stopped (the lease given back)."""
        planned = self.approved(store, trail, cloud, policies)
        return store.tombstones.transition(planned.id, TombstoneState.EXECUTING)

    def test_a_run_stopped_mid_execution_goes_on_from_its_plans_own_discovery(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1"), server("s2")]
        self.stopped(store, trail, cloud, policies)
        cloud.inventory.scopes.clear()
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert cloud.inventory.scopes == []
        assert sorted(cloud.ran) == ["delete:compute.server:s1", "delete:compute.server:s2"]

    def test_a_stopped_run_whose_plan_is_too_old_is_rechecked_first(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1"), server("s2")]
        self.stopped(store, trail, cloud, policies)
        cloud.inventory.resources = [server("s1")]  # s2 went meanwhile
        cloud.inventory.scopes.clear()
        always = dataclasses.replace(SETTINGS, resume_recheck_after=dt.timedelta(0))
        done = worker(store, trail, cloud, policies, always).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert len(cloud.inventory.scopes) == 1
        assert cloud.ran == ["delete:compute.server:s1"]

    def test_an_identity_that_came_back_is_refused_before_anything_runs(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        self.approved(store, trail, cloud, policies)
        cloud.keystone.answers[PROJECT] = IdentityState.ENABLED
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.REFUSED
        assert cloud.ran == []

    def test_a_failed_step_leaves_the_tombstone_partial_with_a_retry_time(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        cloud.results["delete:compute.server:s1"] = Transient("503 from Nova")
        notified(store)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.PARTIAL
        assert done.next_attempt_at is not None and done.claimed_by is None

    def test_a_tombstone_without_a_plan_goes_back_to_received(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        notified(store)
        tombstone = store.tombstones.find(PROJECT)
        assert tombstone is not None
        store.tombstones.transition(tombstone.id, TombstoneState.PLANNED)
        done = worker(store, trail, cloud, policies).process(claimed(store))
        assert done.state is TombstoneState.RECEIVED and done.reason == "no plan yet"


class TestADisableFollowedByADeletion:
    def test_a_deletion_notice_that_came_during_the_disable_cleanup_reopens_it(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.keystone.answers[PROJECT] = IdentityState.DISABLED
        notified(store, disabled=True)
        tombstone = claimed(store)
        # The deletion arrives while the disable is being worked on...
        notified_again = Trigger(
            source=TriggerSource.NOTIFICATION,
            event_type="identity.project.deleted",
            message_id="m-2",
        )
        store.tombstones.record_trigger(PROJECT, notified_again)
        # ...and Keystone says gone by the time the disable's cleanup completes.
        answers = iter([IdentityState.DISABLED, IdentityState.GONE])
        cloud.keystone = Keystone({PROJECT: next(answers)})
        original = cloud.keystone

        def keystone(identity: IdentityRef) -> Verification:
            verification = original(identity)
            original.answers[PROJECT] = next(answers, IdentityState.GONE)
            return verification

        cloud.keystone = keystone  # type: ignore[assignment]
        done = worker(store, trail, cloud, policies).process(tombstone)
        assert done.state is TombstoneState.RECEIVED
        assert "reopened" in done.reason


def test_domain_coverage_opens_a_cleanup_for_each_member_without_one(
    store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
) -> None:
    from reaper.store import Known

    domain = IdentityRef(IdentityKind.DOMAIN, "d-deleted")
    member = IdentityRef(IdentityKind.PROJECT, "p-in-domain")
    store.directory.record([Known(member, "d-deleted", "member")])
    notified(store, domain)
    done = worker(store, trail, cloud, policies).work_once()
    assert done is not None and done.state is TombstoneState.COMPLETE
    opened = store.tombstones.find(member)
    assert opened is not None
    assert opened.triggers[0].source is TriggerSource.SWEEP
    assert opened.triggers[0].event_type == "identity.project.deleted"


class TestAnIncompletePlan:
    """A handler that failed may hide resources: done is not "complete" (issue 13, item 3)."""

    def test_it_runs_what_it_can_and_leaves_the_tombstone_partial_for_a_retry(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        cloud.inventory.others = [Finding("block_storage", errors=("503 after retries",))]
        notified(store)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.PARTIAL
        assert cloud.ran == ["delete:compute.server:s1"]
        assert done.next_attempt_at is not None and done.claimed_by is None
        assert "plan incomplete" in (done.reason or "")
        assert "block_storage: 503 after retries" in (done.reason or "")

    def test_its_retry_discovers_again_and_completes_once_every_handler_answers(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        cloud.inventory.others = [Finding("block_storage", errors=("503 after retries",))]
        notified(store)
        first = worker(store, trail, cloud, policies).work_once()
        assert first is not None and first.state is TombstoneState.PARTIAL
        cloud.inventory.others = []
        cloud.inventory.resources = [server("s2")]  # what the failed listing had hidden
        store.tombstones.transition(first.id, TombstoneState.PARTIAL, next_attempt_at=None)  # due
        done = worker(store, trail, cloud, policies).process(claimed(store))
        assert done.state is TombstoneState.COMPLETE
        assert len(cloud.inventory.scopes) == 2
        assert cloud.ran == ["delete:compute.server:s1", "delete:compute.server:s2"]
        assert done.plan_hash != first.plan_hash

    def test_a_service_the_cloud_does_not_run_is_no_reason_to_retry(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        cloud.inventory.others = [Finding("shared_file_system", skipped=True)]
        notified(store)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
