"""The sweep reads the real services' raw pages: a full scan, the difference, paging to the end.

On the testbed (Keystone, Nova, Cinder, Neutron, Glance): a tenant with one
of each resource is deleted in Keystone; the full scan must find every
resource it left, read as raw JSON pages through openstacksdk's proxies, and
the sweep by difference must find the project and its user from Keystone's
lists and the directory alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from reaper.cleanup import census, sweep
from reaper.cleanup.seams import Cloud
from reaper.inventory.pages import Listing, pages
from reaper.model import IdentityKind, IdentityRef
from reaper.store import Store
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.functional.reaping import TenantFarm

pytestmark = pytest.mark.functional

TENANTS = {
    "sweep-census": TenantSpec(
        servers=1,
        volumes=1,
        attached_volumes=0,
        snapshots=1,
        floating_ips=1,
        ports=1,
        images=1,
        keypairs=0,
        security_groups=0,
    )
}


@pytest.fixture(scope="module")
def gone(
    testbed_admin: Connection, tenant_farm: TenantFarm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Tenant, Store]]:
    """The tenant, known to a store's directory while it lived, then deleted in Keystone."""
    tenant = tenant_farm.order("sweep-census", TENANTS["sweep-census"]).result()
    path = tmp_path_factory.mktemp("census") / "reaper.sqlite"
    with Store.open(f"sqlite:///{path}") as store:
        sweep.Bootstrap(store, lambda: Cloud.of(testbed_admin)).start()
        delete_identity(testbed_admin, tenant)
        yield tenant, store


def orphans_of(found: sweep.SweepResult) -> dict[IdentityRef, sweep.Orphan]:
    return {o.identity: o for o in found.orphans}


def test_a_full_scan_finds_everything_the_deleted_project_and_user_left(
    testbed_admin: Connection, gone: tuple[Tenant, Store]
) -> None:
    tenant, _ = gone
    found = sweep.find_orphans(Cloud.of(testbed_admin), full=True)
    assert found.incomplete == ()
    orphans = orphans_of(found)
    project = orphans[IdentityRef(IdentityKind.PROJECT, tenant.project_id)]
    left = {
        *tenant.server_ids,
        *tenant.volume_ids,
        *tenant.snapshot_ids,
        *tenant.floating_ip_ids,
        *tenant.port_ids,
        *tenant.image_ids,
        tenant.network_id,
        tenant.router_id,
    }
    assert left <= project.resource_ids
    user = orphans[IdentityRef(IdentityKind.USER, tenant.user_id)]
    assert {*tenant.server_ids, *tenant.volume_ids} <= user.resource_ids
    assert tenant.project_id not in {k.identity.id for k in found.known}


def test_between_full_scans_keystones_lists_and_the_directory_find_them(
    testbed_admin: Connection, gone: tuple[Tenant, Store]
) -> None:
    tenant, store = gone
    found = sweep.find_orphans(
        Cloud.of(testbed_admin), full=False, remembered=store.directory.unsettled()
    )
    vanished = {o.identity for o in found.orphans if o.vanished}
    assert {
        IdentityRef(IdentityKind.PROJECT, tenant.project_id),
        IdentityRef(IdentityKind.USER, tenant.user_id),
    } <= vanished


@pytest.mark.parametrize("listing", [r[0] for r in census.RESOURCES], ids=lambda x: x.name)
def test_every_service_is_read_page_by_page_to_its_end(
    testbed_admin: Connection, gone: tuple[Tenant, Store], listing: Listing
) -> None:
    """One item a page: each service's next links are followed, and nothing is lost."""
    proxy = getattr(testbed_admin, listing.service)
    whole = [i["id"] for page in pages(proxy, listing) for i in page]
    paged = [
        [i["id"] for i in page] for page in pages(proxy, dataclasses.replace(listing, page_size=1))
    ]
    assert whole, f"the testbed has no {listing.name}: nothing would be tested"
    assert all(len(page) <= 1 for page in paged)
    assert sorted(i for page in paged for i in page) == sorted(whole)
