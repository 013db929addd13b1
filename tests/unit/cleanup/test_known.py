"""What a 404 lets reaper do: only for identities it saw alive, and never past a protected domain.

Issue 13, items 2 and 10. Keystone, the inventory and the runner are
scripted (``fakes``); the store (and its directory), the policies, the
planner and the executor are real.
"""

from __future__ import annotations

import dataclasses
import json

from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.cleanup.verify import IdentityState, Verification
from reaper.model import TombstoneState, Trigger, TriggerSource
from reaper.policy import PolicySet
from reaper.store import Store

from .fakes import PROJECT, FakeCloud, server
from .test_worker import SETTINGS, notified, worker

PROTECTED = dataclasses.replace(SETTINGS, protected_domain_ids=frozenset({"d-kept"}))


def refusals(store: Store) -> list[str]:
    bodies = [json.loads(r.body) for r in AuditRepository(store.db).records()]
    return [
        b["reason"]["reasonCode"]
        for b in bodies
        if b["outcome"] == "failure" and b["target"]["id"] == PROJECT.id
    ]


class TestAnIdentityReaperNeverSawAlive:
    def test_its_deletion_is_refused_as_never_known_and_nothing_is_listed(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store, seen=False)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.REFUSED
        assert (done.reason or "").startswith("never known")
        assert cloud.inventory.scopes == [] and cloud.ran == []
        [why] = refusals(store)
        assert why.startswith("refused: never known")

    def test_it_is_cleaned_up_when_the_sweeps_listings_found_resources_it_owns(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        store.tombstones.record_trigger(
            PROJECT, Trigger(source=TriggerSource.SWEEP, event_type="identity.project.deleted")
        )
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert cloud.ran == ["delete:compute.server:s1"]

    def test_a_created_notification_or_a_sweep_made_it_known(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store, seen=True)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE


class TestAProtectedDomain:
    def test_a_deleted_project_of_a_protected_domain_keeps_everything(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store, domain="d-kept")
        done = worker(store, trail, cloud, policies, PROTECTED).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE
        assert cloud.ran == []
        plan = store.plans.load(done.plan_hash or "")
        assert [d.rule for d in plan.decisions] == ["protected_domain_ids"]

    def test_a_deleted_project_whose_domain_is_unknown_is_held_for_an_operator(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store, domain=None)
        done = worker(store, trail, cloud, policies, PROTECTED).work_once()
        assert done is not None and done.state is TombstoneState.HELD
        assert "domain of project:p-deleted is unknown" in (done.reason or "")
        assert cloud.ran == []

    def test_without_protected_domains_an_unknown_domain_holds_nothing(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        cloud.inventory.resources = [server("s1")]
        notified(store, domain=None)
        done = worker(store, trail, cloud, policies).work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE

    def test_keystones_answer_while_the_identity_exists_is_written_down(
        self, store: Store, trail: AuditTrail, cloud: FakeCloud, policies: PolicySet
    ) -> None:
        """An ``updated`` notice of a live project: refused, and its domain remembered."""
        found = Verification(PROJECT, IdentityState.ENABLED, name="p", domain_id="d-kept")
        cloud.keystone = lambda identity: found  # type: ignore[assignment]
        notified(store, disabled=True, seen=False)
        done = worker(store, trail, cloud, policies, PROTECTED).work_once()
        assert done is not None and done.state is TombstoneState.REFUSED
        known = store.directory.get(PROJECT)
        assert known is not None
        assert (known.domain_id, known.source) == ("d-kept", "keystone")
