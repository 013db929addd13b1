"""The sweep reads the real services' raw pages: a full scan, the difference, paging to the end.

On the testbed (Keystone, Nova, Cinder, Neutron, Glance): a tenant with one
of each resource is deleted in Keystone; the full scan must find every
resource it left, read as raw JSON pages through openstacksdk's proxies, and
the sweep by difference must find the project and its user from Keystone's
lists and the directory alone. ``reaper sweep`` and ``openstack reaper
sweep`` do the same, by difference unless ``--full``, and say which.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reaper.cleanup import census, sweep
from reaper.cleanup.scanproc import ChildScan
from reaper.cleanup.seams import Cloud
from reaper.cli.main import main
from reaper.inventory.pages import Listing, pages
from reaper.model import IdentityKind, IdentityRef
from reaper.store import Store
from tests.functional.reaping import _environ
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.functional.reaping import TenantFarm
    from tests.testbed import Testbed

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
    # reaper.sqlite in a state_path: the store `reaper sweep` reads too.
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


CHANGEABLE = [r[0] for r in census.RESOURCES if r[0].name in census.CHANGED_SINCE]


@pytest.mark.parametrize("listing", CHANGEABLE, ids=lambda x: x.name)
def test_every_service_lists_what_changed_since_a_time_and_only_that(
    testbed_admin: Connection, gone: tuple[Tenant, Store], listing: Listing
) -> None:
    """Each service takes its filter (a refused one would leave the listing incomplete)
    and applies it (an ignored one would list the whole cloud every sweep)."""
    proxy = getattr(testbed_admin, listing.service)
    now = dt.datetime.now(dt.timezone.utc)
    whole = sorted(i["id"] for page in pages(proxy, listing) for i in page)
    recent = census.changed_since(listing, now - dt.timedelta(days=1))
    later = census.changed_since(listing, now + dt.timedelta(hours=1))
    assert recent is not None and later is not None
    changed = sorted(
        i["id"] for page in pages(proxy, recent) for i in page if i.get("status") != "DELETED"
    )
    assert whole, f"the testbed has no {listing.name}: nothing would be tested"
    assert changed == whole  # the testbed made all of it today
    assert [i for page in pages(proxy, later) for i in page] == []


def test_between_full_scans_the_changed_scan_finds_what_the_deleted_project_left(
    testbed_admin: Connection, gone: tuple[Tenant, Store]
) -> None:
    """Without the directory: an owner reaper never saw is found by what it changed lately."""
    tenant, _ = gone
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    found = sweep.find_orphans(Cloud.of(testbed_admin), full=False, since=since)
    assert found.incomplete == () and not found.full and found.since == since
    project = orphans_of(found)[IdentityRef(IdentityKind.PROJECT, tenant.project_id)]
    assert {*tenant.server_ids, *tenant.volume_ids, *tenant.image_ids} <= project.resource_ids
    # The full scan's: no filter for what changed (Cinder), or one Neutron refuses.
    left = {*tenant.snapshot_ids, *tenant.port_ids, tenant.network_id, tenant.router_id}
    assert not left & project.resource_ids


def test_neutron_refuses_changed_since_for_now(testbed_admin: Connection) -> None:
    """Why Neutron's listings wait for the full scan: if this fails, Neutron takes the
    filter now and CHANGED_SINCE can list what changed there too."""
    since = {"changed_since": "2026-01-01T00:00:00Z"}
    response = testbed_admin.network.get("/networks", params=since)
    assert response.status_code == 400
    assert "changed_since" in response.text


@pytest.mark.parametrize("listing", [i[1] for i in census.IDENTITIES], ids=lambda x: x.name)
def test_keystones_lists_are_read_page_by_page_to_their_end(
    testbed_admin: Connection, listing: Listing
) -> None:
    """keystone 30 pages: every full page ``truncated`` with a next link, read on to the end.

    Asked without ``limit`` it would stop at ``max_db_limit`` (1000) saying
    nothing, so the sweep always asks with it. Other tests create and delete
    identities meanwhile: those present in a whole read before and after the
    paged one must all be in it.
    """
    proxy = testbed_admin.identity
    before = {i["id"] for page in pages(proxy, listing) for i in page}
    paged = list(pages(proxy, dataclasses.replace(listing, page_size=1)))
    after = {i["id"] for page in pages(proxy, listing) for i in page}
    assert before & after, f"Keystone lists no {listing.name}: nothing would be tested"
    assert all(len(page) <= 1 for page in paged) and len(paged) > 1
    assert before & after <= {i["id"] for page in paged for i in page}


# -- the command: `reaper sweep` and `openstack reaper sweep` ------------------------------


def reaper_sweep(testbed: Testbed, state_path: Path, *args: str) -> tuple[int, list[dict], str]:
    """``reaper sweep -f json ARGS`` with a reaper.conf whose state_path is ``state_path``."""
    conf = state_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {state_path}\n")
    argv = ["--config-file", str(conf), "--os-cloud", testbed.cloud_name, "sweep", "-f", "json"]
    out, err = io.StringIO(), io.StringIO()
    with (
        _environ(OS_CLIENT_CONFIG_FILE=str(testbed.clouds_yaml)),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main([*argv, *args])
    return code, json.loads(out.getvalue() or "[]"), err.getvalue()


def ids_of(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(row["Kind"], row["Identity"]): row for row in rows}


def test_reaper_sweep_is_by_difference_unless_told_full(
    testbed: Testbed, gone: tuple[Tenant, Store]
) -> None:
    tenant, store = gone
    state_path = Path(str(store.db.engine.url.database)).parent
    code, rows, err = reaper_sweep(testbed, state_path)
    assert code == 0, err
    assert "by difference (" in err and "identities reaper saw alive" in err, err
    found = ids_of(rows)
    assert ("project", tenant.project_id) in found and ("user", tenant.user_id) in found

    code, rows, err = reaper_sweep(testbed, state_path, "--full", "--min-age", "0")
    assert code == 0, err
    assert "full scan (every resource listing of the cloud, and " in err, err
    project = ids_of(rows)[("project", tenant.project_id)]
    assert project["Resources"] >= len(tenant.server_ids) + len(tenant.volume_ids)


def test_reaper_sweep_without_a_store_says_to_sweep_in_full_which_needs_none(
    testbed: Testbed, gone: tuple[Tenant, Store], tmp_path: Path
) -> None:
    tenant, _ = gone
    code, rows, err = reaper_sweep(testbed, tmp_path)
    assert code == 1 and rows == []
    assert "no store at" in err and "reaper sweep --full" in err, err
    assert "Traceback" not in err

    code, rows, err = reaper_sweep(testbed, tmp_path, "--full", "--min-age", "0")
    assert code == 0, err
    assert "the full scan alone" in err and "full scan (every resource listing of the cloud)" in err
    assert ("project", tenant.project_id) in ids_of(rows)


def test_openstack_reaper_sweep_takes_full_too(
    testbed: Testbed, gone: tuple[Tenant, Store], tmp_path: Path
) -> None:
    tenant, store = gone
    state_path = Path(str(store.db.engine.url.database)).parent
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {state_path}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env |= {"OS_CLIENT_CONFIG_FILE": str(testbed.clouds_yaml), "OS_CLOUD": testbed.cloud_name}
    openstack = str(Path(sys.executable).with_name("openstack"))
    for extra, said in (((), "by difference ("), (("--full", "--min-age", "0"), "full scan (")):
        run = subprocess.run(
            [openstack, "--reaper-config-file", str(conf), "reaper", "sweep", "-f", "json",
             *extra],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert said in run.stderr, run.stderr
        assert ("project", tenant.project_id) in ids_of(json.loads(run.stdout))


# -- the controller's full scan, in a process of its own -----------------------------------


def child_scan(tmp_path: Path, credentials: str, **kwargs: Any) -> ChildScan:
    """A :class:`ChildScan` whose configuration's ``[service_credentials]`` says ``credentials``."""
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n[service_credentials]\n{credentials}")
    return ChildScan(["--config-file", str(conf)], **kwargs)


def test_the_controllers_full_scan_counts_in_a_child_what_this_process_counts(
    testbed: Testbed, testbed_admin: Connection, gone: tuple[Tenant, Store], tmp_path: Path
) -> None:
    """The child reads the same cloud with the controller's own files and credentials."""
    tenant, _ = gone
    scan = child_scan(tmp_path, f"cloud = {testbed.cloud_name}\n")
    with _environ(OS_CLIENT_CONFIG_FILE=str(testbed.clouds_yaml)):
        in_child = sweep.find_orphans(Cloud.of(testbed_admin), full=True, scan=scan)
    here = sweep.find_orphans(Cloud.of(testbed_admin), full=True)

    assert in_child.incomplete == () and multiprocessing.active_children() == []
    project = IdentityRef(IdentityKind.PROJECT, tenant.project_id)
    assert orphans_of(in_child)[project].resource_ids == orphans_of(here)[project].resource_ids
    assert {o.identity for o in in_child.orphans} >= {project}


def test_a_full_scan_whose_process_fails_reads_as_nothing_read(
    testbed: Testbed, testbed_admin: Connection, tmp_path: Path
) -> None:
    """No conclusion from a scan that did not happen: every listing is incomplete."""
    scan = child_scan(tmp_path, "cloud = no-such-cloud\n")
    with _environ(OS_CLIENT_CONFIG_FILE=str(testbed.clouds_yaml)):
        found = sweep.find_orphans(Cloud.of(testbed_admin), full=True, scan=scan)

    assert set(found.incomplete) == {listing.name for listing, *_ in census.RESOURCES}
    assert not [o for o in found.orphans if not o.vanished]
    assert multiprocessing.active_children() == []


def test_a_stopping_controller_ends_its_full_scan_at_once(tmp_path: Path) -> None:
    """A Keystone that never answers: the stop ends the wait, and the child with it."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepted by the kernel, never answered
    port = silent.getsockname()[1]
    stopping = threading.Event()
    scan = child_scan(
        tmp_path,
        f"auth_type = password\nauth_url = http://127.0.0.1:{port}/v3\nusername = u\n"
        "password = p\nproject_name = p\nuser_domain_id = default\n"
        "project_domain_id = default\n",
        stopping=stopping,
    )
    threading.Timer(3.0, stopping.set).start()
    started = time.monotonic()
    try:
        counted = scan(projects=frozenset(), users=frozenset(), cutoff=dt.datetime.now(dt.UTC))
    finally:
        silent.close()

    assert time.monotonic() - started < 3.0 + 10.0
    assert set(counted.incomplete) == {listing.name for listing, *_ in census.RESOURCES}
    assert multiprocessing.active_children() == []
