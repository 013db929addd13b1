"""Swift, Octavia and Designate of a deleted project, reaped on the real testbed.

A project D has a Swift container with objects, a load balancer on its own
network, a DNS zone with a record, and a floating IP whose reverse DNS (PTR)
its user set. A live project L has the same kinds of things, and a record in
its own zone that points at D's floating IP. D is deleted in Keystone;
``reaper plan`` and ``reaper apply`` run as an admin that sees every project.

* the plan deletes D's load balancer before its network and subnet, and
  unsets the PTR before the floating IP is released;
* after the apply nothing of D is left in Swift, Octavia or Designate (its
  zone is gone from the listing, its PTR too);
* L's load balancer, container and zone are untouched, and its record that
  pointed at D's released address is reported, not deleted.

Two small tenants (networks only) and one apply: CI budget.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from reaper.model import Plan
from tests.functional.reaping import Operator, Run, TenantFarm, load_plan
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

T = TypeVar("T")
NOTHING = dict(
    servers=0,
    volumes=0,
    attached_volumes=0,
    snapshots=0,
    ports=0,
    images=0,
    keypairs=0,
    security_groups=0,
)
#: D: a network, subnet and router, and one floating IP.
DOOMED_SPEC = TenantSpec(**NOTHING, floating_ips=1)
#: L: a network, subnet and router.
LIVE_SPEC = TenantSpec(**NOTHING, floating_ips=0)
TENANTS = {"extras-doomed": DOOMED_SPEC, "extras-live": LIVE_SPEC}
SUDO = "X-Auth-Sudo-Project-ID"


@dataclasses.dataclass
class Made:
    """What one project was given: ids by kind."""

    tenant: Tenant
    container: str
    load_balancer: str
    zone: str
    record: str


@dataclasses.dataclass
class World:
    doomed: Made
    live: Made
    address: str
    #: The name D's floating IP resolved back to.
    ptrdname: str
    dangling: str
    plan: Plan
    apply_run: Run


def eventually(what: str, check: Callable[[], T | None], timeout: float = 180.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


def _status(resource: Any, wanted: str) -> Any:
    status = getattr(resource, "provisioning_status", None) or resource.status
    if status == "ERROR":
        raise AssertionError(f"{resource.id} went to ERROR")
    return resource if status == wanted else None


def _give(tenant: Tenant, tag: str, objects: int) -> tuple[Any, Made]:
    """As the project's own user: a container of objects, a load balancer and a zone."""
    user = tenant.connect()
    container = f"{tag}-data"
    user.object_store.create_container(container)
    for n in range(objects):
        user.object_store.upload_object(container, f"o{n}.txt", data=f"{tag} {n}".encode())
    lb = user.load_balancer.create_load_balancer(name=f"{tag}-web", vip_subnet_id=tenant.subnet_id)
    zone = user.dns.create_zone(name=f"{tag}{tenant.project_id[:12]}.example.", email="a@b.org")
    eventually("a zone to go ACTIVE", lambda: _status(user.dns.get_zone(zone.id), "ACTIVE"))
    record = user.dns.create_recordset(
        zone, name=f"www.{zone.name}", type="A", records=["192.0.2.10"]
    )
    made = Made(tenant, container, lb.id, zone.id, record.id)
    return user, made


@pytest.fixture(scope="module")
def world(
    testbed_extras: Testbed,
    tenant_farm: TenantFarm,
    testbed_admin: Connection,
    fault_proxy: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    doomed_tenant = tenant_farm.order("extras-doomed", DOOMED_SPEC).result()
    live_tenant = tenant_farm.order("extras-live", LIVE_SPEC).result()
    d_user, doomed = _give(doomed_tenant, "d", objects=3)
    l_user, live = _give(live_tenant, "l", objects=1)
    fip_id = doomed_tenant.floating_ip_ids[0]
    address = testbed_admin.network.get_ip(fip_id).floating_ip_address
    region = testbed_extras.region
    ptrdname = f"mail.d{doomed_tenant.project_id[:12]}.example."
    d_user.dns.patch(
        f"/reverse/floatingips/{region}:{fip_id}", json={"ptrdname": ptrdname, "ttl": 300}
    )
    l_zone = l_user.dns.get_zone(live.zone)
    dangling = l_user.dns.create_recordset(
        l_zone, name=f"old.{l_zone.name}", type="A", records=[address]
    )
    for user, made in ((d_user, doomed), (l_user, live)):
        eventually(
            "a load balancer to go ACTIVE",
            lambda u=user, m=made: _status(
                u.load_balancer.get_load_balancer(m.load_balancer), "ACTIVE"
            ),
        )
    eventually("the PTR to be set", lambda: _status(_Ptr(d_user, region, fip_id), "ACTIVE"))
    operator = Operator(tmp_path_factory.mktemp("extras"), fault_proxy, testbed_extras)
    delete_identity(testbed_admin, doomed_tenant)
    plan_run, plan_file = operator.plan("project", doomed_tenant.project_id, name="extras")
    assert plan_run.code == 0, plan_run
    apply_run = operator("apply", str(plan_file), "--yes", "-f", "json")
    tenant_farm.reaped(doomed_tenant)
    try:
        yield World(doomed, live, address, ptrdname, dangling.id, load_plan(plan_file), apply_run)
    finally:
        l_user.load_balancer.delete_load_balancer(live.load_balancer, cascade=True)
        l_user.dns.delete_zone(live.zone)
        for name in ("o0.txt",):
            l_user.object_store.delete_object(name, container=live.container)
        l_user.object_store.delete_container(live.container)


class _Ptr:
    """A PTR as its project's user reads it (``status``, ``ptrdname``)."""

    def __init__(self, conn: Any, region: str, fip_id: str) -> None:
        body = conn.dns.get(f"/reverse/floatingips/{region}:{fip_id}").json()
        self.id = body["id"]
        self.status = body["status"]
        self.ptrdname = body["ptrdname"]


def step_index(plan: Plan, prefix: str) -> int:
    """The position of the one step whose id starts with ``prefix``."""
    (index,) = [i for i, s in enumerate(plan.steps) if s.id.startswith(prefix)]
    return index


def test_the_load_balancer_goes_before_its_network_and_the_ptr_before_its_address(
    world: World,
) -> None:
    plan, d = world.plan, world.doomed
    lb = step_index(plan, f"delete:load_balancer.load_balancer:{d.load_balancer}")
    lb_step = plan.steps[lb]
    for prefix in (
        f"delete:network.network:{d.tenant.network_id}",
        f"delete:network.subnet:{d.tenant.subnet_id}",
    ):
        later = plan.steps[step_index(plan, prefix)]
        assert lb < step_index(plan, prefix)
        assert lb_step.id in _ancestors(plan, later.id), prefix
    fip = d.tenant.floating_ip_ids[0]
    ptr = step_index(plan, "delete:dns.floatingip_ptr:")
    release = step_index(plan, f"delete:network.floating_ip:{fip}")
    assert plan.steps[ptr].resource.id.endswith(f":{fip}")
    assert plan.steps[ptr].id in plan.steps[release].depends_on


def _ancestors(plan: Plan, step_id: str) -> set[str]:
    by_id = {s.id: s for s in plan.steps}
    seen: set[str] = set()
    todo = list(by_id[step_id].depends_on)
    while todo:
        sid = todo.pop()
        if sid not in seen:
            seen.add(sid)
            todo.extend(by_id[sid].depends_on)
    return seen


def test_nothing_of_the_deleted_project_is_left_in_swift_octavia_or_designate(
    world: World, testbed_admin: Connection
) -> None:
    pid = world.doomed.tenant.project_id
    statuses = {row["Status"] for row in world.apply_run.json()}
    assert not statuses & {"failed", "blocked", "skipped"}, world.apply_run
    assert list(testbed_admin.load_balancer.load_balancers(project_id=pid)) == []
    assert list(testbed_admin.dns.zones(project_id=pid)) == []
    endpoint = testbed_admin.object_store.get_endpoint().rstrip("/")
    account = endpoint.rsplit("/", 1)[0] + f"/AUTH_{pid}"
    listing = testbed_admin.object_store.get(f"{account}?format=json", raise_exc=False)
    assert listing.status_code in (204, 404, 410) or listing.json() == [], listing.text
    # The released address no longer resolves back to the deleted project's name.
    ptrs = testbed_admin.dns.get(
        "/recordsets", params={"type": "PTR"}, headers={"X-Auth-All-Projects": "true"}
    ).json()["recordsets"]
    assert [r for r in ptrs if world.ptrdname in r["records"]] == []


def test_the_live_projects_load_balancer_container_and_zone_are_untouched(
    world: World, testbed_admin: Connection
) -> None:
    live = world.live
    pid = live.tenant.project_id
    lb = testbed_admin.load_balancer.get_load_balancer(live.load_balancer)
    assert lb.provisioning_status == "ACTIVE"
    assert [z.id for z in testbed_admin.dns.zones(project_id=pid)] == [live.zone]
    user = live.tenant.connect()
    assert user.object_store.download_object("o0.txt", container=live.container) == b"l 0"


def test_the_live_record_pointing_at_the_released_address_is_reported_not_deleted(
    world: World, testbed_admin: Connection
) -> None:
    reported = [
        s for s in world.plan.steps if s.resource.id == world.dangling and s.action == "report"
    ]
    assert reported, [s.id for s in world.plan.steps]
    assert not [
        s for s in world.plan.steps if s.resource.id == world.dangling and s.action == "delete"
    ]
    record = testbed_admin.dns.get(
        f"/zones/{world.live.zone}/recordsets/{world.dangling}",
        headers={SUDO: world.live.tenant.project_id},
    ).json()
    assert record["records"] == [world.address]
