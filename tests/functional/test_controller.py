"""The controller, for real: Keystone deletes, reaper follows; forgeries, garbage, crashes.

Each test runs ``reaper-controller`` as a subprocess against the testbed's
real Keystone, Nova, Cinder, Neutron and Glance and the machine's RabbitMQ,
and then looks at the cloud and at reaper's store: nothing here is mocked.
"""

from __future__ import annotations

import collections
import concurrent.futures
import secrets
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.functional.controller_fixtures import Bus, ControllerProcess
from tests.testbed.holdings import owned_ids
from tests.testbed.tenant import TenantSpec, build_tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

SETTLED = {TombstoneState.COMPLETE, TombstoneState.PARTIAL, TombstoneState.REFUSED}
SMALL = TenantSpec(servers=1, volumes=2, attached_volumes=1, snapshots=1, floating_ips=1)


def project(pid: str) -> IdentityRef:
    return IdentityRef(IdentityKind.PROJECT, pid)


def user(uid: str) -> IdentityRef:
    return IdentityRef(IdentityKind.USER, uid)


def mutations_of(records: list[dict], tombstone_id: str) -> list[dict]:
    return [
        r
        for r in records
        if r["reaper"].get("tombstone_id") == tombstone_id
        and r["reaper"].get("step_id")
        and r["action"] != "evaluate"
    ]


def test_a_project_deleted_in_keystone_is_cleaned_up_with_no_other_action(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    reaper = controllers().start()
    tenant = build_tenant(testbed_admin, SMALL, name=f"ctl-{secrets.token_hex(3)}")

    delete_identity(testbed_admin, tenant)

    done = reaper.wait_for(project(tenant.project_id), SETTLED)
    assert done.state is TombstoneState.COMPLETE, done.reason
    assert owned_ids(testbed_admin, tenant.project_id) == {}
    keypairs = reaper.wait_for(user(tenant.user_id), SETTLED)
    assert keypairs.state is TombstoneState.COMPLETE
    assert reaper.terminate() == 0


def test_a_forged_deletion_of_a_live_project_is_refused_and_touches_nothing(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess], bus: Bus
) -> None:
    reaper = controllers().start()
    tenant = build_tenant(testbed_admin, SMALL, name=f"live-{secrets.token_hex(3)}")
    before = owned_ids(testbed_admin, tenant.project_id)
    try:
        bus.notification(
            "identity.project.deleted", {"resource_info": tenant.project_id, "request_id": "x"}
        )
        refused = reaper.wait_for(project(tenant.project_id), SETTLED)
        assert refused.state is TombstoneState.REFUSED
        assert "still exists" in refused.reason
        assert owned_ids(testbed_admin, tenant.project_id) == before
        assert mutations_of(reaper.audit(), refused.id) == []
        assert refused.plan_hash is None
    finally:
        delete_identity(testbed_admin, tenant)
    # The forgery must not make reaper deaf to the real deletion that follows.
    done = reaper.wait_for(project(tenant.project_id), {TombstoneState.COMPLETE})
    assert done.id == refused.id
    assert owned_ids(testbed_admin, tenant.project_id) == {}


def test_malformed_messages_are_audited_and_the_listener_keeps_running(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess], bus: Bus
) -> None:
    reaper = controllers().start()
    bus.raw(secrets.token_bytes(300))  # random bytes
    bus.raw(b'{"oslo.version": "2.0", "oslo.message": "{not json')  # broken JSON
    bus.notification("identity.project.deleted", {"request_id": "no id"})  # missing field
    bus.notification("identity.project.deleted", ["a", "list"])  # wrong shape
    bus.notification("identity.user.deleted", {"resource_info": "x" * 100_000})  # huge
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rejected = [
            r for r in reaper.audit() if r["action"] == "receive" and r["outcome"] == "failure"
        ]
        if len(rejected) >= 5:
            break
        time.sleep(0.5)
    codes = sorted(r["reaper"]["extra"]["code"] for r in rejected)
    assert codes == ["malformed", "malformed", "too_large", "undecodable", "undecodable"]
    assert reaper.store.tombstones.list() == []
    # Still listening: a real deletion goes through.
    empty = testbed_admin.identity.create_project(name=f"after-garbage-{secrets.token_hex(3)}")
    testbed_admin.identity.delete_project(empty)
    assert reaper.wait_for(project(empty.id), SETTLED).state is TombstoneState.COMPLETE
    assert reaper.running


def test_a_user_deletion_removes_keypairs_and_only_reports_servers_in_live_projects(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    reaper = controllers().start()
    tenant = build_tenant(
        testbed_admin,
        TenantSpec(servers=1, volumes=0, attached_volumes=0, snapshots=0, floating_ips=0),
        name=f"usr-{secrets.token_hex(3)}",
    )
    try:
        before = owned_ids(testbed_admin, tenant.project_id)
        testbed_admin.identity.delete_user(tenant.user_id)

        done = reaper.wait_for(user(tenant.user_id), SETTLED)
        assert done.state is TombstoneState.COMPLETE, done.reason
        assert list(testbed_admin.compute.keypairs(user_id=tenant.user_id)) == []
        assert owned_ids(testbed_admin, tenant.project_id) == before
        plan = reaper.store.plans.load(done.plan_hash)
        servers = [d for d in plan.decisions if d.resource.type == "compute.server"]
        assert [d.verdict.value for d in servers] == ["skip"]
        assert [s.resource.type for s in plan.steps] == ["compute.keypair"]
    finally:
        testbed_admin.identity.delete_project(tenant.project_id)


def test_a_domain_deleted_with_its_contents_is_cleaned_up(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    reaper = controllers().start()
    domain = testbed_admin.identity.create_domain(name=f"dom-{secrets.token_hex(3)}")
    projects = [
        testbed_admin.identity.create_project(name=f"p{i}", domain_id=domain.id) for i in range(2)
    ]
    for p in projects:
        testbed_admin.network.create_network(name=f"net-{p.id[:6]}", project_id=p.id)
    # Disabled first (Keystone requires it), then deleted: the disable's
    # tombstone completes with nothing to do, and the deletion reopens it.
    testbed_admin.identity.update_domain(domain, is_enabled=False)
    testbed_admin.identity.delete_domain(domain)  # Keystone deletes its projects first

    for p in projects:
        done = reaper.wait_for(project(p.id), SETTLED)
        assert done.state is TombstoneState.COMPLETE, done.reason
        assert list(testbed_admin.network.networks(project_id=p.id)) == []
    ident = IdentityRef(IdentityKind.DOMAIN, domain.id)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        dom = reaper.wait_for(ident, SETTLED)
        plan = reaper.store.plans.load(dom.plan_hash) if dom.plan_hash else None
        if plan is not None and plan.trigger == "identity.domain.deleted":
            break
        time.sleep(0.5)
    assert dom.state is TombstoneState.COMPLETE
    assert plan is not None and plan.trigger == "identity.domain.deleted"
    coverage = [
        r
        for r in reaper.audit()
        if r["reaper"].get("tombstone_id") == dom.id
        and str(r["reason"].get("reasonCode", "")).startswith("domain coverage")
    ]
    assert len(coverage) == 1


def test_a_controller_killed_mid_cleanup_resumes_and_runs_no_step_twice(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    reaper = controllers(name="crashy").start()
    tenant = build_tenant(
        testbed_admin,
        TenantSpec(servers=2, volumes=3, attached_volumes=2, snapshots=2, floating_ips=1),
        name=f"kill-{secrets.token_hex(3)}",
    )
    delete_identity(testbed_admin, tenant)
    ident = project(tenant.project_id)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        t = reaper.tombstone(ident)
        if t and t.plan_hash and reaper.store.plans.outcomes(t.plan_hash):
            break
        time.sleep(0.05)
    reaper.kill()  # SIGKILL, mid-cleanup
    killed = reaper.tombstone(ident)
    assert killed is not None and killed.state not in SETTLED

    reaper.start()  # same host name: it resumes its own tombstones at once
    done = reaper.wait_for(ident, SETTLED)
    assert done.state is TombstoneState.COMPLETE, done.reason
    assert owned_ids(testbed_admin, tenant.project_id) == {}
    records = mutations_of(reaper.audit(), done.id)
    finished: dict[str, int] = collections.Counter()
    done_at: dict[str, int] = {}
    for r in records:
        status = r["reaper"].get("extra", {}).get("status")
        if status == "done":
            finished[r["reaper"]["step_id"]] += 1
            done_at.setdefault(r["reaper"]["step_id"], r["reaper"]["seq"])
    assert finished and max(finished.values()) == 1
    for r in records:
        step = r["reaper"]["step_id"]
        if r["outcome"] == "pending" and step in done_at:
            assert r["reaper"]["seq"] < done_at[step], f"{step} started again after it was done"


def test_notifications_survive_a_cut_connection(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    reaper = controllers(name="cut").start()
    assert reaper.process is not None
    made = [
        testbed_admin.identity.create_project(name=f"cut-{secrets.token_hex(3)}") for _ in range(5)
    ]
    testbed_admin.identity.delete_project(made[0])
    _close_connections_of(reaper.process.pid)
    for p in made[1:]:
        testbed_admin.identity.delete_project(p)
    for p in made:
        assert reaper.wait_for(project(p.id), SETTLED).state is TombstoneState.COMPLETE


def _close_connections_of(pid: int) -> None:
    """Cut the controller's broker connections the way a network fault would."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # RabbitMQ addresses a connection by its Erlang pid; oslo.messaging names each
    # connection "<program>:<os pid>:<uuid>" in its client properties.
    names = [line.split("\t")[0] for line in listing.splitlines() if f":{pid}:" in line]
    closed = 0
    for name in names:
        # Short-lived connections of the process may be gone by now; the listener's is not.
        result = subprocess.run(
            ["rabbitmqctl", "-q", "close_connection", name, "reaper test: connection cut"],
            check=False,
            capture_output=True,
        )
        closed += result.returncode == 0
    assert closed, f"no connection of pid {pid} could be closed:\n{listing[:2000]}"


def test_two_controllers_on_postgresql_share_the_work_and_each_tombstone_runs_once(
    testbed_admin: Connection,
    controllers: Callable[..., ControllerProcess],
    pg_url: str,
) -> None:
    pool = f"reaper-shared-{secrets.token_hex(3)}"
    # dry_run: each controller plans and holds, which is where a double claim would show.
    first = controllers(store_url=pg_url, pool=pool, name="one", dry_run=True).start()
    second = controllers(store_url=pg_url, pool=pool, name="two", dry_run=True).start()
    assert second.running
    tag = secrets.token_hex(2)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        projects = list(
            pool.map(
                lambda i: testbed_admin.identity.create_project(name=f"share-{i}-{tag}"),
                range(200),
            )
        )
        list(pool.map(testbed_admin.identity.delete_project, projects))
    ours = {p.id for p in projects}
    held = {TombstoneState.HELD}
    for p in projects:
        first.wait_for(project(p.id), held | SETTLED, timeout=600)
    tombstones = {first.tombstone(project(pid)).id for pid in ours}  # type: ignore[union-attr]
    records = [r for r in first.audit() if r["reaper"].get("tombstone_id") in tombstones]
    plans: dict[str, int] = collections.Counter()
    observers: dict[str, set[str]] = collections.defaultdict(set)
    for r in records:
        if (
            r["action"] == "evaluate"
            and r["target"]["typeURI"].endswith("project")
            and (r["reaper"].get("extra", {}).get("steps") is not None)
        ):
            plans[r["reaper"]["tombstone_id"]] += 1
            observers[r["reaper"]["tombstone_id"]].add(r["observer"]["name"])
    assert len(plans) == 200
    assert set(plans.values()) == {1}
    by_controller = collections.Counter(next(iter(o)) for o in observers.values())
    assert set(by_controller) == {"one", "two"}, by_controller
