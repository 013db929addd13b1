"""The testbed is a real OpenStack: what reaper's functional tests rely on.

Each test states one thing the real services do on this machine: servers boot, volumes
attach, floating IPs associate, images upload, keystone announces deleted projects on the
bus in both notification formats, and ``down`` leaves nothing behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.testbed import Testbed
from tests.testbed.notifications import listening
from tests.testbed.tenant import Tenant, TenantSpec, build_tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

CADF_EVENT = "http://schemas.dmtf.org/cloud/audit/1.0/event"
SPEC = TenantSpec()


@pytest.fixture(scope="module")
def tenant(testbed_admin: Connection) -> Iterator[Tenant]:
    """A small tenant built by its own user (project and user removed afterwards)."""
    built = build_tenant(testbed_admin, SPEC)
    yield built
    delete_identity(testbed_admin, built)


def test_a_server_boots_to_active(testbed_admin: Connection, tenant: Tenant) -> None:
    server = testbed_admin.compute.get_server(tenant.server_ids[0])

    assert server.status == "ACTIVE"
    assert server.project_id == tenant.project_id
    assert server.user_id == tenant.user_id
    assert server.compute_host


def test_a_volume_attaches_to_the_server(testbed_admin: Connection, tenant: Tenant) -> None:
    volume_id, server_id = next(iter(tenant.attachments.items()))

    volume = testbed_admin.block_storage.get_volume(volume_id)
    server = testbed_admin.compute.get_server(server_id)

    assert volume.status == "in-use"
    assert [a["server_id"] for a in volume.attachments] == [server_id]
    assert volume_id in [a.id for a in server.attached_volumes]


def test_a_floating_ip_associates_with_the_server_port(
    testbed_admin: Connection, tenant: Tenant
) -> None:
    server_id = tenant.server_ids[0]
    port = testbed_admin.network.get_port(tenant.server_port_ids[server_id])

    floating_ip = testbed_admin.network.get_ip(tenant.floating_ip_ids[0])

    assert port.device_id == server_id
    assert port.binding_vif_type not in ("unbound", "binding_failed")
    assert floating_ip.port_id == port.id
    assert floating_ip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    assert floating_ip.project_id == tenant.project_id


def test_an_image_uploads(testbed_admin: Connection, tenant: Tenant) -> None:
    image = testbed_admin.image.get_image(tenant.image_ids[0])

    assert image.status == "active"
    assert image.visibility == "private"
    assert image.owner == tenant.project_id
    assert image.size == SPEC.image_bytes
    assert len(testbed_admin.image.download_image(image).content) == SPEC.image_bytes


def test_the_tenant_has_every_resource_kind(testbed_admin: Connection, tenant: Tenant) -> None:
    router = testbed_admin.network.get_router(tenant.router_id)
    interfaces = list(
        testbed_admin.network.ports(device_id=tenant.router_id, network_id=tenant.network_id)
    )
    snapshot = testbed_admin.block_storage.get_snapshot(tenant.snapshot_ids[0])
    group = testbed_admin.network.get_security_group(tenant.security_group_ids[0])

    assert (
        router.external_gateway_info["network_id"]
        == testbed_admin.network.find_network("public").id
    )
    assert len(interfaces) == 1
    assert snapshot.status == "available"
    assert snapshot.volume_id in tenant.volume_ids
    assert any(rule["port_range_min"] == 22 for rule in group.security_group_rules)
    assert len(tenant.port_ids) == SPEC.ports
    assert len(tenant.keypair_names) == SPEC.keypairs


@pytest.fixture
def restore_notification_format(testbed: Testbed) -> Iterator[None]:
    """Leave keystone publishing the format it had, whatever the test switched it to."""
    before = testbed.notification_format
    yield
    testbed.set_notification_format(before)


@pytest.mark.parametrize("notification_format", ["basic", "cadf"])
@pytest.mark.usefixtures("restore_notification_format")
def test_deleting_a_project_publishes_identity_project_deleted(
    testbed: Testbed, testbed_admin: Connection, notification_format: str
) -> None:
    testbed.set_notification_format(notification_format)
    project = testbed_admin.identity.create_project(
        name=f"doomed-{secrets.token_hex(4)}", domain_id="default"
    )

    with listening(testbed.transport_url, pool=f"test-testbed-{secrets.token_hex(4)}") as heard:
        testbed_admin.identity.delete_project(project)
        notification = heard.wait_for(
            "identity.project.deleted",
            lambda n: n["payload"].get("resource_info") == project.id,
        )

    payload = notification["payload"]
    assert notification["priority"] == "info"
    assert notification["publisher_id"].startswith("identity.")
    if notification_format == "basic":
        assert "typeURI" not in payload
    else:
        assert payload["typeURI"] == CADF_EVENT
        assert payload["action"] == "deleted.project"
        assert payload["target"]["id"] == project.id


def test_down_leaves_no_process_database_or_vhost_behind(testbed: Testbed) -> None:
    second = Testbed.up()
    try:
        running = second.leftovers()
        assert second.run_id != testbed.run_id
        assert second.transport_url != testbed.transport_url
        assert not set(second.state.ports.values()) & set(testbed.state.ports.values())
        assert running["processes"], "the leftover check must see a running run's processes"
        assert len(running["listening ports"]) == len(second.state.ports)
        assert len(running["databases"]) == len(second.state.databases)
        assert running["vhosts"] == [second.state.vhost]
    finally:
        second.down()

    assert second.leftovers() == {
        "processes": [],
        "listening ports": [],
        "databases": [],
        "vhosts": [],
    }
    assert not second.run_dir.exists()
    assert all(testbed.status()["apis"].values()), "the other run must be untouched"
