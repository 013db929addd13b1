"""A deleted project's shares and stacks, reaped on the real testbed; a live project's kept.

The deleted project has a share with an access rule, a snapshot and a replica
(on the second backend), a share group with a share in it, a share network on
its Neutron network, and a Heat stack that made a Neutron network and subnet;
the live project has a share and a stack too. ``reaper apply --project`` (a
subprocess, as an operator runs it, with the testbed's admin cloud) must leave
nothing of the deleted project that Manila, Heat or Neutron can show, and
change nothing of the live one's.
One module, two small tenants (no servers, no volumes), built in parallel.

A third small tenant's stack is already ``DELETE_FAILED`` when its project
is deleted (its user added a port to the stack's subnet, then deleted the
stack): ``apply`` removes the port, subnet and network by their own handlers
first, then has Heat delete the stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from reaper.inventory import shared_file_system as sfs
from tests.testbed.tenant import Tenant, TenantSpec, build_tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

T = TypeVar("T")
#: Only a network and subnet (for the stack's neighbour); everything else is made here.
SPEC = TenantSpec(
    servers=0,
    volumes=0,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    ports=0,
    images=0,
    keypairs=0,
    security_groups=0,
)
STACK = {
    "heat_template_version": "2021-04-16",
    "resources": {
        "net": {"type": "OS::Neutron::Net", "properties": {"name": "stack-net"}},
        "subnet": {
            "type": "OS::Neutron::Subnet",
            "properties": {"network": {"get_resource": "net"}, "cidr": "10.19.0.0/24"},
        },
    },
    "outputs": {"net": {"value": {"get_resource": "net"}}},
}


def eventually(what: str, check: Callable[[], T | None], timeout: float = 180.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


def manila(proxy: Any, method: str, path: str, body: Any = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"headers": dict(sfs.HEADERS)}
    if body is not None:
        kwargs["json"] = body
    response = getattr(proxy, method)(path, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else {}


def available(proxy: Any, path: str, key: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        found: dict[str, Any] = manila(proxy, "get", path)[key]
        assert "error" not in found["status"], f"{path} went to {found['status']}"
        return found if found["status"] == "available" else None

    return eventually(f"{path} to be available", ready)


def furnish(tenant: Tenant, *, full: bool) -> dict[str, str]:
    """As the tenant's user: a share with a rule, and a stack; if ``full``, all the rest.

    The rest: a snapshot and a replica of that share, a share group with a share of its
    own, and a share network on the tenant's Neutron network and subnet.
    """
    user = tenant.connect()
    sfs_proxy = user.shared_file_system
    share = manila(sfs_proxy, "post", "/shares", {"share": {"share_proto": "NFS", "size": 1}})
    share_id = share["share"]["id"]
    stack = user.orchestration.create_stack(name=f"{tenant.project_name}-stack", template=STACK)
    made = {"share": share_id, "stack": stack.id}
    if full:
        group = manila(sfs_proxy, "post", "/share-groups", {"share_group": {"name": "g"}})
        made["share_group"] = group["share_group"]["id"]
        network = {"neutron_net_id": tenant.network_id, "neutron_subnet_id": tenant.subnet_id}
        made["share_network"] = manila(
            sfs_proxy, "post", "/share-networks", {"share_network": {"name": "sn", **network}}
        )["share_network"]["id"]
    available(sfs_proxy, f"/shares/{share_id}", "share")
    manila(sfs_proxy, "post", f"/shares/{share_id}/action",
           {"allow_access": {"access_type": "ip", "access_to": "10.0.0.0/24"}})  # fmt: skip
    if full:
        snap = manila(sfs_proxy, "post", "/snapshots", {"snapshot": {"share_id": share_id}})
        replica = manila(
            sfs_proxy, "post", "/share-replicas", {"share_replica": {"share_id": share_id}}
        )
        available(sfs_proxy, f"/share-groups/{made['share_group']}", "share_group")
        grouped = manila(sfs_proxy, "post", "/shares",
                         {"share": {"share_proto": "NFS", "size": 1,
                                    "share_group_id": made["share_group"]}})  # fmt: skip
        made["snapshot"] = snap["snapshot"]["id"]
        made["replica"] = replica["share_replica"]["id"]
        made["grouped_share"] = grouped["share"]["id"]
        available(sfs_proxy, f"/snapshots/{made['snapshot']}", "snapshot")
        available(sfs_proxy, f"/share-replicas/{made['replica']}", "share_replica")
        available(sfs_proxy, f"/shares/{made['grouped_share']}", "share")
    user.orchestration.wait_for_status(
        stack, status="CREATE_COMPLETE", failures=["CREATE_FAILED"], interval=1, wait=180
    )
    return made


def holdings(admin: Connection, project_id: str) -> dict[str, list[str]]:
    """What Manila, Heat and Neutron show of a project, as the testbed's admin."""
    proxy = admin.shared_file_system
    shares = sfs.of_project(proxy, "/shares/detail", "shares", project_id)
    rules = [r["id"] for s in shares for r in sfs.access_rules(proxy, s["id"])]
    stacks = admin.orchestration.get("/stacks", params={"tenant": project_id}).json()["stacks"]
    return {
        "shares": sorted(s["id"] for s in shares),
        "access_rules": rules,
        "replicas": sorted(r["id"] for s in shares for r in sfs.replicas(proxy, s["id"])),
        "snapshots": [
            s["id"] for s in sfs.of_project(proxy, "/snapshots/detail", "snapshots", project_id)
        ],
        "share_groups": [
            g["id"]
            for g in sfs.of_project(proxy, "/share-groups/detail", "share_groups", project_id)
        ],
        "share_networks": [
            s["id"]
            for s in sfs.of_project(proxy, "/share-networks/detail", "share_networks", project_id)
        ],
        "stacks": [s["id"] for s in stacks],
        "networks": sorted(n.name for n in admin.network.networks(project_id=project_id)),
    }


def gone(admin: Connection, path: str) -> bool:
    """Whether Manila answers 404 for this object (its listings by share no longer can)."""
    response = admin.shared_file_system.get(path, headers=dict(sfs.HEADERS))
    return response.status_code == 404


def reaper_apply(testbed: Testbed, home: Path, project_id: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OS_CLIENT_CONFIG_FILE": str(testbed.clouds_yaml),
        "OS_CLOUD": testbed.cloud_name,
        "XDG_STATE_HOME": str(home),
    }
    command = ["apply", "--project", project_id, "--yes", "-f", "json"]
    return subprocess.run(
        [sys.executable, "-m", "reaper.cli.main", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def world(
    testbed_more: Testbed, testbed_admin: Connection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        leaver, live = pool.map(lambda _: build_tenant(testbed_admin, SPEC), range(2))
        leaver_made, live_made = pool.map(
            lambda t: furnish(t[0], full=t[1]), [(leaver, True), (live, False)]
        )
    live_before = holdings(testbed_admin, live.project_id)
    delete_identity(testbed_admin, leaver)
    applied = reaper_apply(testbed_more, tmp_path_factory.mktemp("reaper"), leaver.project_id)
    yield {
        "leaver": leaver,
        "live": live,
        "leaver_made": leaver_made,
        "live_made": live_made,
        "applied": applied,
        "live_before": live_before,
    }
    if not testbed_more.owned:  # a shared testbed: reap the live tenant too, when done
        delete_identity(testbed_admin, live)
        reaper_apply(testbed_more, tmp_path_factory.mktemp("reaper"), live.project_id)


def test_apply_leaves_nothing_of_the_deleted_projects_shares_and_stacks(
    world: dict[str, Any], testbed_admin: Connection
) -> None:
    applied = world["applied"]
    left = holdings(testbed_admin, world["leaver"].project_id)

    made = world["leaver_made"]

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert left["shares"] == []
    assert left["access_rules"] == []
    assert left["replicas"] == []
    assert left["snapshots"] == []
    assert left["share_groups"] == []
    assert left["share_networks"] == []
    for path in (
        f"/shares/{made['share']}",
        f"/shares/{made['grouped_share']}",
        f"/snapshots/{made['snapshot']}",
        f"/share-replicas/{made['replica']}",
        f"/share-groups/{made['share_group']}",
        f"/share-networks/{made['share_network']}",
    ):
        assert gone(testbed_admin, path), path
    # reaper's own steps did it: each of them is a step of the plan, done.
    done = {row["ID"] for row in json.loads(applied.stdout) if row["Status"] == "done"}
    assert set(made.values()) <= done
    assert left["stacks"] == []
    assert left["networks"] == []  # the stack's (Heat deleted it) and the tenant's own
    # Heat deleted the stack (first), and with it the network it made.
    stack_rows = [row for row in json.loads(applied.stdout) if row["Service"] == "orchestration"]
    assert [(r["Type"], r["ID"], r["Status"]) for r in stack_rows] == [
        ("stack", world["leaver_made"]["stack"], "done")
    ]
    assert stack_rows[0]["#"] == 1


def test_the_live_projects_share_and_stack_are_untouched(
    world: dict[str, Any], testbed_admin: Connection
) -> None:
    now = holdings(testbed_admin, world["live"].project_id)

    assert now == world["live_before"]
    assert now["shares"] == [world["live_made"]["share"]]
    assert len(now["access_rules"]) == 1
    assert now["stacks"] == [world["live_made"]["stack"]]


@pytest.fixture(scope="module")
def blocked(
    testbed_more: Testbed, testbed_admin: Connection, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A deleted project whose stack Heat failed to delete, and what ``apply`` did of it.

    Its user added a port to the stack's subnet and then deleted the stack: Heat could
    not delete the subnet, and the stack ended ``DELETE_FAILED`` holding it and its network.
    """
    tenant = build_tenant(testbed_admin, SPEC)
    user = tenant.connect()
    stack = user.orchestration.create_stack(name=f"{tenant.project_name}-stack", template=STACK)
    user.orchestration.wait_for_status(
        stack, status="CREATE_COMPLETE", failures=["CREATE_FAILED"], interval=1, wait=180
    )
    network = next(n for n in user.network.networks() if n.name == "stack-net")
    subnet = next(user.network.subnets(network_id=network.id))
    port = user.network.create_port(network_id=network.id, name="not-the-stacks")
    user.orchestration.delete_stack(stack)
    failed = user.orchestration.wait_for_status(
        stack, status="DELETE_FAILED", failures=["DELETE_COMPLETE"], interval=1, wait=180
    )
    delete_identity(testbed_admin, tenant)
    applied = reaper_apply(testbed_more, tmp_path_factory.mktemp("reaper"), tenant.project_id)
    return {
        "made": {"stack": stack.id, "network": network.id, "subnet": subnet.id, "port": port.id},
        "reason": failed.status_reason,
        "applied": applied,
        "left": holdings(testbed_admin, tenant.project_id),
        "ports": [p.id for p in testbed_admin.network.ports(project_id=tenant.project_id)],
    }


def test_a_failed_stacks_leftovers_go_by_their_own_handlers_then_the_stack(
    blocked: dict[str, Any],
) -> None:
    applied = blocked["applied"]
    made = blocked["made"]

    rows = json.loads(applied.stdout) if applied.stdout else []
    order = {row["ID"]: row["#"] for row in rows}
    done = {row["ID"] for row in rows if row["Status"] == "done"}

    assert "One or more ports" in blocked["reason"]  # Heat's reason for DELETE_FAILED
    assert applied.returncode == 0, applied.stdout + applied.stderr
    # The port, then the subnet and network the stack left, by their own handlers; then
    # Heat deletes the stack, which holds nothing any more.
    assert (
        order[made["port"]] < order[made["subnet"]] < order[made["network"]] < order[made["stack"]]
    ), order
    assert set(made.values()) <= done
    assert blocked["left"]["stacks"] == []
    assert blocked["left"]["networks"] == []
    assert blocked["ports"] == []
