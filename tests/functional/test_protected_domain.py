"""A deleted project of a protected domain keeps everything (issue 13, item 2), on the testbed.

Keystone forgets a deleted project's domain; reaper's directory, bootstrapped
from Keystone's listings while the project existed, remembers it. The worker,
the policies (the defaults), Keystone, Neutron and the store are all real.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reaper.audit.record import Actor
from reaper.audit.trail import AuditTrail
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.sweep import Bootstrap
from reaper.cleanup.worker import Worker
from reaper.model import IdentityKind, IdentityRef, TombstoneState, Trigger, TriggerSource
from reaper.policy import load_policies
from reaper.store import Store

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

DEFAULT_POLICY = str(Path(__file__).parents[2] / "policies" / "default.yaml")


@pytest.fixture
def protected(testbed_admin: Connection) -> Iterator[tuple[Any, Any, Any]]:
    """A domain, a project in it, and a network the project owns."""
    tag = secrets.token_hex(3)
    domain = testbed_admin.identity.create_domain(name=f"kept-{tag}")
    project = testbed_admin.identity.create_project(name=f"kept-{tag}", domain_id=domain.id)
    network = testbed_admin.network.create_network(name=f"kept-{tag}", project_id=project.id)
    yield domain, project, network
    testbed_admin.network.delete_network(network.id, ignore_missing=True)
    testbed_admin.identity.delete_project(project.id, ignore_missing=True)
    testbed_admin.identity.update_domain(domain.id, is_enabled=False)
    testbed_admin.identity.delete_domain(domain.id, ignore_missing=True)


def test_a_deleted_project_of_a_protected_domain_loses_nothing(
    testbed_admin: Connection, protected: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    domain, project, network = protected
    identity = IdentityRef(IdentityKind.PROJECT, project.id)
    with Store.open(f"sqlite:///{tmp_path / 'reaper.sqlite'}") as store:
        seams = lambda: Cloud.of(testbed_admin)  # noqa: E731
        Bootstrap(store, seams).start()  # the controller's start, while the project exists
        testbed_admin.identity.delete_project(project.id)
        store.tombstones.record_trigger(
            identity,
            Trigger(TriggerSource.NOTIFICATION, event_type="identity.project.deleted"),
        )
        trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
        policies = load_policies([DEFAULT_POLICY])
        worker = Worker(
            Settings(owner="t", protected_domain_ids=frozenset({domain.id})),
            store=store,
            trail=trail,
            cloud=seams,
            policies=lambda: policies,
        )
        done = worker.work_once()
        assert done is not None and done.state is TombstoneState.COMPLETE, done
        plan = store.plans.load(done.plan_hash or "")
        assert network.id in {d.resource.id for d in plan.decisions}
        assert {d.rule for d in plan.decisions} == {"protected_domain_ids"}
        assert plan.steps == ()
    assert testbed_admin.network.get_network(network.id).id == network.id
