"""Swift, Octavia and Designate in the testbed: started on demand, real, reachable.

Each test states one thing the optional services do on this machine, as the tenant's
own user and as the testbed's admin: an object stored in a container; a load balancer
that goes ACTIVE with a real VIP port in the tenant's network; a zone that goes ACTIVE
with a recordset; and the admin (reseller admin, all-projects headers) reaching another
project's account and zones, which is how reaper reaches a deleted project's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.testbed import Testbed
from tests.testbed.tenant import Tenant, TenantSpec, build_tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

T = TypeVar("T")
#: A network, subnet and router: somewhere to put a load balancer's VIP.
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


def eventually(what: str, check: Callable[[], T | None], timeout: float = 120.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


@pytest.fixture(scope="module")
def tenant(testbed_extras: Testbed, testbed_admin: Connection) -> Iterator[Tenant]:
    built = build_tenant(testbed_admin, SPEC)
    yield built
    delete_identity(testbed_admin, built)


def test_the_optional_services_are_running_and_in_the_catalog(
    testbed_extras: Testbed, testbed_admin: Connection
) -> None:
    report = testbed_extras.status()

    assert {"swift", "octavia", "designate"} <= set(testbed_extras.services)
    for api in ("swift-proxy", "octavia-api", "designate-api"):
        assert report["apis"][api], api
    for process in ("swift-object", "octavia-worker", "designate-central", "designate-worker"):
        assert report["processes"][process], process
    for service_type in ("object-store", "load-balancer", "dns"):
        assert testbed_admin.has_service(service_type), service_type


def test_starting_services_that_run_already_changes_nothing(testbed_extras: Testbed) -> None:
    pids = dict(testbed_extras.state.pids)

    testbed_extras.start_services(["swift", "designate"])

    assert testbed_extras.state.pids == pids


def test_an_object_is_stored_and_the_reseller_admin_reaches_its_account(
    testbed_admin: Connection, tenant: Tenant
) -> None:
    user = tenant.connect()
    user.object_store.create_container("evidence")
    user.object_store.upload_object("evidence", "a.txt", data=b"hello")

    account = account_url(testbed_admin, tenant.project_id)
    listing = testbed_admin.object_store.get(f"{account}/evidence?format=json").json()

    assert [o["name"] for o in listing] == ["a.txt"]
    assert user.object_store.download_object("a.txt", container="evidence") == b"hello"


def test_a_load_balancer_goes_active_with_a_real_vip_port(
    testbed_admin: Connection, tenant: Tenant
) -> None:
    user = tenant.connect()
    lb = user.load_balancer.create_load_balancer(name="web", vip_subnet_id=tenant.subnet_id)

    active = eventually(
        "the load balancer to go ACTIVE",
        lambda: _status(user.load_balancer.get_load_balancer(lb.id), "ACTIVE"),
    )
    port = testbed_admin.network.get_port(active.vip_port_id)
    listed = list(testbed_admin.load_balancer.load_balancers(project_id=tenant.project_id))

    assert port.project_id == tenant.project_id
    assert port.network_id == tenant.network_id
    assert port.device_owner == "Octavia"
    assert [x.id for x in listed] == [lb.id]


def test_a_zone_goes_active_and_the_admin_sees_it_as_the_project(
    testbed_admin: Connection, tenant: Tenant
) -> None:
    user = tenant.connect()
    zone = user.dns.create_zone(name=f"z{tenant.project_id[:12]}.example.", email="a@example.org")
    eventually("the zone to go ACTIVE", lambda: _status(user.dns.get_zone(zone.id), "ACTIVE"))
    user.dns.create_recordset(zone, name=f"www.{zone.name}", type="A", records=["172.24.0.9"])

    as_project = list(testbed_admin.dns.zones(project_id=tenant.project_id))
    # openstacksdk drops /recordsets' path when given all_projects: ask the API itself.
    records = testbed_admin.dns.get(
        "/recordsets", params={"data": "172.24.0.9"}, headers={"X-Auth-All-Projects": "true"}
    ).json()["recordsets"]

    assert [z.id for z in as_project] == [zone.id]
    assert [r["name"] for r in records if r["zone_id"] == zone.id] == [f"www.{zone.name}"]


def account_url(admin: Connection, project_id: str) -> str:
    """Another project's Swift account, as a reseller admin addresses it."""
    endpoint = admin.object_store.get_endpoint().rstrip("/")
    return endpoint.rsplit("/", 1)[0] + f"/AUTH_{project_id}"


def _status(resource: Any, wanted: str) -> Any:
    status = getattr(resource, "provisioning_status", None) or resource.status
    if status == "ERROR":
        raise AssertionError(f"{resource.id} went to ERROR")
    return resource if status == wanted else None
