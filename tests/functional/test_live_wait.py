"""Finish the job later: a controller's cleanup waits for a live tenant, on the real testbed.

(``test_live_use`` drives the operator's plan/apply; this module the
controller's road, where the tombstone's states are.)

A project V shares with a live project L: its network through an RBAC
entry (L's ACTIVE server has its port on it), its image (L's server booted
from it) and its security group (L's rule names it as remote group). A
controller runs; V is deleted in Keystone. L's server is still ACTIVE on
V's network; the RBAC entry, network, subnet, image and group are kept and
the plan says who uses each; V's router is gone and its quotas released
now; the tombstone is ``waiting`` (not complete: something is left) and
``reaper tombstone show --waiting`` lists what waits for whom.

Then the operator hands the image to L (``reaper release --to-project``):
Glance changes its owner, the decision is audited and the cleanup planned
again, still waiting for the rest. L stops using the rest (deletes its
server and its rule); ``reaper tombstone recheck`` (what each sweep does)
sends the tombstone round again, and the controller reaps the network, the
subnet, the RBAC entry and the group: complete, with a plan record that
follows the first.

One small pair of tenants, one server, one controller: CI budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reaper.cli.main import main
from reaper.model import IdentityKind, IdentityRef, OutcomeStatus, Plan, TombstoneState
from tests.functional.controller_fixtures import Bus, ControllerProcess
from tests.functional.live_sharing import (
    OWNER_SPEC,
    USER_SPEC,
    WAIT,
    assert_kept_for_live_use,
    ports_using,
    share,
)
from tests.functional.reaping import TenantFarm, _environ
from tests.testbed.tenant import Tenant

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

TENANTS = {"live-wait-owner": OWNER_SPEC, "live-wait-user": USER_SPEC}
SETTLED = {
    TombstoneState.WAITING,
    TombstoneState.COMPLETE,
    TombstoneState.PARTIAL,
    TombstoneState.HELD,
}


@dataclasses.dataclass
class World:
    owner: Tenant
    user: Tenant
    rbac_id: str
    image_id: str
    group_id: str
    rule_id: str
    server_id: str
    reaper: ControllerProcess
    testbed: Testbed
    #: The tombstone as V's deletion left it, and the plan it waits on.
    waiting: Any
    first: Plan

    @property
    def identity(self) -> IdentityRef:
        return IdentityRef(IdentityKind.PROJECT, self.owner.project_id)

    def reaper_cli(self, *args: str) -> tuple[int, str, str]:
        """``reaper ARGS`` against the controller's store, as its operator runs it."""
        argv = ["--config-file", str(self.reaper.conf_path), "--os-cloud", self.testbed.cloud_name]
        out, err = io.StringIO(), io.StringIO()
        with (
            _environ(OS_CLIENT_CONFIG_FILE=str(self.testbed.clouds_yaml)),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = main([*argv, *args])
        return code, out.getvalue(), err.getvalue()


def _controller(testbed: Testbed, workdir: Path) -> ControllerProcess:
    """A controller of this module's own (its sweep off: the test re-checks when it wants)."""
    pool = f"reaper-live-wait-{secrets.token_hex(4)}"
    conf_path = workdir / "reaper.conf"
    conf_path.write_text(
        "[DEFAULT]\n"
        f"transport_url = {testbed.transport_url}\n"
        f"state_path = {workdir}\n"
        "host = live-wait\n"
        "dry_run = false\n"
        "poll_interval = 0.5\n"
        "[listener]\n"
        f"pool = {pool}\n"
        "[service_credentials]\n"
        f"cloud = {testbed.cloud_name}\n"
        "[api]\n"
        "port = 0\n"
        "[sweep]\n"
        "enabled = false\n"
        "[executor]\n"
        "confirm_interval = 0.5\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environ["OS_CLIENT_CONFIG_FILE"] = str(testbed.clouds_yaml)
    return ControllerProcess(workdir, conf_path, environ, pool)


@pytest.fixture(scope="module")
def world(
    tenant_farm: TenantFarm,
    testbed: Testbed,
    testbed_admin: Connection,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    owner = tenant_farm.order("live-wait-owner", OWNER_SPEC).result()
    user = tenant_farm.order("live-wait-user", USER_SPEC).result()
    rbac_id, image_id, group_id, rule_id, server_id = share(testbed_admin, owner, user)
    reaper = _controller(testbed, tmp_path_factory.mktemp("live-wait")).start()
    try:
        # Only the project: its user's own cleanup would race this one.
        testbed_admin.identity.delete_project(owner.project_id)
        identity = IdentityRef(IdentityKind.PROJECT, owner.project_id)
        waiting = reaper.wait_for(identity, SETTLED, timeout=WAIT)
        first = reaper.store.plans.load(waiting.plan_hash or "")
        yield World(
            owner,
            user,
            rbac_id,
            image_id,
            group_id,
            rule_id,
            server_id,
            reaper,
            testbed,
            waiting,
            first,
        )
    finally:
        if reaper.running:
            reaper.terminate()
        if reaper._store is not None:
            reaper._store.close()
        Bus(testbed.transport_url).delete_pool(reaper.pool)
        testbed_admin.compute.delete_server(server_id, ignore_missing=True)
        testbed_admin.identity.delete_user(owner.user_id, ignore_missing=True)


def test_the_live_projects_server_is_still_active_on_the_network(
    world: World, testbed_admin: Connection
) -> None:
    server = testbed_admin.compute.get_server(world.server_id)
    assert server.status == "ACTIVE"
    ports = list(testbed_admin.network.ports(device_id=world.server_id))
    assert [p.network_id for p in ports] == [world.owner.network_id]


def test_what_the_live_project_uses_is_kept_and_the_plan_says_by_whom(
    world: World, testbed_admin: Connection
) -> None:
    plan = world.first
    assert_kept_for_live_use(plan, world, testbed_admin)


def test_what_nobody_alive_uses_goes_now_quotas_included(
    world: World, testbed_admin: Connection
) -> None:
    plan = world.first
    outcomes = world.reaper.store.plans.outcomes(plan.content_hash)
    done = {(s.resource.type, s.resource.id): outcomes[s.id].status for s in plan.steps}
    router = ("network.router", world.owner.router_id)
    assert done.get(router) is OutcomeStatus.DONE, done
    for quota in ("compute", "block_storage", "network"):
        [ref] = [s.resource for s in plan.steps if s.resource.type == f"{quota}.quota"]
        # Released (already_gone: that service held nothing beyond its defaults).
        assert done[(ref.type, ref.id)].successful, done
    assert testbed_admin.network.find_router(world.owner.router_id) is None


def test_the_tombstone_waits_and_says_for_what_and_whom(world: World) -> None:
    assert world.waiting.state is TombstoneState.WAITING, world.waiting.reason
    assert world.waiting.next_attempt_at is None
    code, out, err = world.reaper_cli(
        "tombstone", "show", world.waiting.id, "--waiting", "-f", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    shown = {(r["Type"], r["ID"]) for r in rows}
    assert shown == {
        ("network.network", world.owner.network_id),
        ("network.subnet", world.owner.subnet_id),
        ("network.rbac_policy", world.rbac_id),
        ("image.image", world.image_id),
        ("network.security_group", world.group_id),
    }
    assert {r["Live Project"] for r in rows} == {world.user.project_id}
    [network] = [r for r in rows if r["ID"] == world.owner.network_id]
    assert (
        network["Used Through"]
        == f"port {ports_using(world.first, world.owner.network_id)[0]} on server {world.server_id}"
    )
    code, out, _ = world.reaper_cli("tombstone", "list", "--state", "waiting", "-f", "json")
    assert world.waiting.id in {t["ID"] for t in json.loads(out)}
    assert world.reaper.metric("reaper_kept_for_live_use", resource_type="network.network") >= 1


def test_the_image_is_handed_to_the_live_project_on_the_record(
    world: World, testbed_admin: Connection
) -> None:
    user = world.user.project_id
    code, out, err = world.reaper_cli(
        "release", world.waiting.id, world.image_id, "--to-project", user, "-f", "json"
    )
    assert code == 0, err
    assert json.loads(out)["Decision"] == f"handed to project {user}"
    assert testbed_admin.image.get_image(world.image_id).owner == user
    again = _next_settled(world, after=world.first.content_hash)
    assert again.state is TombstoneState.WAITING, again.reason
    released = [
        r
        for r in world.reaper.audit()
        if r["target"]["id"] == world.image_id and r["reaper"].get("extra", {}).get("release")
    ]
    assert [r["outcome"] for r in released] == ["success"]
    assert released[0]["reaper"]["extra"]["to_project"] == user


def test_neutron_keeps_a_networks_project_and_says_so(
    world: World, testbed_admin: Connection
) -> None:
    tombstone = world.reaper.tombstone(world.identity)
    assert tombstone is not None
    code, _, err = world.reaper_cli(
        "release", tombstone.id, world.owner.network_id, "--to-project", world.user.project_id
    )
    assert code == 4, err
    assert "Neutron refused to change the owner" in err and "--forget" in err
    net = testbed_admin.network.get_network(world.owner.network_id)
    assert net.project_id == world.owner.project_id
    assert world.reaper.tombstone(world.identity).state is TombstoneState.WAITING


def test_once_the_live_project_stops_using_them_the_recheck_reaps_them(
    world: World, testbed_admin: Connection
) -> None:
    lc = world.user.connect()
    lc.compute.delete_server(world.server_id)
    lc.compute.wait_for_delete(lc.compute.get_server(world.server_id), wait=WAIT)
    testbed_admin.network.delete_security_group_rule(world.rule_id)
    before = world.reaper.tombstone(world.identity)
    assert before is not None and before.state is TombstoneState.WAITING
    code, out, err = world.reaper_cli("tombstone", "recheck", "-f", "json")
    assert code == 0, err
    [rechecked] = [t for t in json.loads(out) if t["ID"] == before.id]
    assert rechecked["State"] == "received", rechecked
    done = _next_settled(world, after=before.plan_hash or "")
    assert done.state is TombstoneState.COMPLETE, done.reason
    net = testbed_admin.network
    assert net.find_network(world.owner.network_id) is None
    assert net.find_subnet(world.owner.subnet_id) is None
    assert net.find_rbac_policy(world.rbac_id) is None
    assert net.find_security_group(world.group_id) is None
    # Handed over: L's now, and stays.
    assert testbed_admin.image.get_image(world.image_id).owner == world.user.project_id
    plans = [
        r
        for r in world.reaper.audit()
        if r["reaper"].get("tombstone_id") == before.id
        and r["reason"]["reasonCode"].startswith("plan of")
    ]
    assert plans[-1]["reaper"]["plan"]["hash"] == done.plan_hash
    assert plans[-1]["reaper"]["extra"]["follows"] == before.plan_hash


def _next_settled(world: World, *, after: str) -> Any:
    """The tombstone once a plan other than ``after`` has settled."""
    deadline = time.monotonic() + WAIT
    found = None
    while time.monotonic() < deadline:
        found = world.reaper.tombstone(world.identity)
        if found is not None and found.plan_hash != after and found.state in SETTLED:
            return found
        time.sleep(0.5)
    raise AssertionError(
        f"no new plan settled after {after}: {found}\n{world.reaper.log()[-3000:]}"
    )
