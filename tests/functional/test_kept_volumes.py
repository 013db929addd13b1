"""Volumes that must outlive the servers reaper deletes, on a real Nova and Cinder.

Nova deletes a volume attached with ``delete_on_termination`` together with
its server, whatever the volume's tags say. A deleted project's servers hold:

* ``boot``: a root volume tagged ``reaper:keep``, deleted on termination
  (the server booted from it must stay: a root volume cannot be detached);
* ``data``: a data volume tagged ``reaper:keep``, deleted on termination
  (it must be detached before its server goes);
* ``spare``: a data volume tagged ``reaper:keep``, kept on termination (the
  server's deletion detaches it harmlessly, and the plan says so);
* ``plain``: an untagged data volume, deleted on termination (it goes);
* ``foreign``: another project's volume, attached by an admin and deleted on
  termination (it is not the deleted project's: it must survive);
* ``late``: a data volume tagged ``reaper:keep`` only after the plan was
  shown, on a server of its own (apply's re-check keeps that server).

The project is deleted in Keystone, ``reaper plan`` and ``reaper apply`` run,
and every volume that was to be kept is still there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from reaper.model import Plan, Verdict
from tests.faultproxy import Seen
from tests.functional.reaping import Operator, Run, TenantFarm, load_plan
from tests.testbed.holdings import holdings
from tests.testbed.tenant import SERVER_FLAVOR, Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

KEEP = {"reaper:keep": "true"}
#: A network, subnet and router, and one server booted from the image.
DOOMED_SPEC = TenantSpec(
    servers=1,
    volumes=0,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    ports=0,
    images=0,
    keypairs=0,
    security_groups=0,
)
#: A live project with a volume an admin lends to the doomed project's server.
LENDER_SPEC = TenantSpec(
    servers=0,
    volumes=1,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    ports=0,
    images=0,
    keypairs=0,
    security_groups=0,
)
#: What this module builds (the session builds every module's tenants at once).
TENANTS = {"kept-volumes": DOOMED_SPEC, "kept-volumes-lender": LENDER_SPEC}
WAIT = 300


@dataclasses.dataclass
class World:
    tenant: Tenant
    lender: Tenant
    #: volume name -> id
    volumes: dict[str, str]
    #: server name -> id: ``image`` (booted from the image), ``bfv``, ``late``
    servers: dict[str, str]
    plan_run: Run
    plan: Plan
    apply_run: Run
    #: What the proxy saw reaper send while it applied, in order.
    requests: list[Seen]

    @property
    def project_id(self) -> str:
        return self.tenant.project_id


def _volume(conn: Connection, name: str, metadata: dict[str, str] | None = None) -> Any:
    return conn.block_storage.create_volume(name=name, size=1, metadata=metadata or {})


def _attach(admin: Connection, server_id: str, volume_id: str, *, delete: bool) -> None:
    """Attach as an admin, saying whether Nova deletes the volume with the server (2.79)."""
    admin.compute.create_volume_attachment(
        server_id, volume_id=volume_id, delete_on_termination=delete
    )


def _build(admin: Connection, tenant: Tenant, lender: Tenant) -> tuple[dict, dict]:
    conn = tenant.connect()
    bs = conn.block_storage
    made = {
        "boot": _volume(conn, "kept-boot", KEEP),
        "data": _volume(conn, "kept-data", KEEP),
        "spare": _volume(conn, "kept-spare", KEEP),
        "plain": _volume(conn, "plain-data"),
        "late": _volume(conn, "late-data"),
    }
    for volume in made.values():
        bs.wait_for_status(volume, "available", wait=WAIT)
    volumes = {name: v.id for name, v in made.items()}
    volumes["foreign"] = lender.volume_ids[0]
    # Cinder's fake driver cannot copy an image into a volume: an empty volume, made bootable.
    admin.block_storage.set_volume_bootable_status(volumes["boot"], True)
    flavor = conn.compute.find_flavor(SERVER_FLAVOR, ignore_missing=False)
    image = conn.image.find_image("testbed-image", ignore_missing=False)
    network = [{"uuid": tenant.network_id}]
    bfv = conn.compute.create_server(
        name="kept-bfv",
        flavor_id=flavor.id,
        networks=network,
        block_device_mapping=[
            {
                "boot_index": 0,
                "uuid": volumes["boot"],
                "source_type": "volume",
                "destination_type": "volume",
                "delete_on_termination": True,
            }
        ],
    )
    late = conn.compute.create_server(
        name="kept-late", flavor_id=flavor.id, image_id=image.id, networks=network
    )
    servers = {"image": tenant.server_ids[0], "bfv": bfv.id, "late": late.id}
    for server_id in (bfv.id, late.id):
        conn.compute.wait_for_server(conn.compute.get_server(server_id), wait=WAIT)
    _attach(admin, servers["image"], volumes["data"], delete=True)
    _attach(admin, servers["image"], volumes["spare"], delete=False)
    _attach(admin, servers["image"], volumes["plain"], delete=True)
    _attach(admin, servers["image"], volumes["foreign"], delete=True)
    _attach(admin, servers["late"], volumes["late"], delete=True)
    for name in ("data", "spare", "plain", "foreign", "late"):
        admin.block_storage.wait_for_status(
            admin.block_storage.get_volume(volumes[name]), "in-use", wait=WAIT
        )
    return volumes, servers


@pytest.fixture(scope="module")
def world(
    tenant_farm: TenantFarm,
    testbed: Testbed,
    testbed_admin: Connection,
    fault_proxy: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    tenant = tenant_farm.order("kept-volumes", DOOMED_SPEC).result()
    lender = tenant_farm.order("kept-volumes-lender", LENDER_SPEC).result()
    volumes, servers = _build(testbed_admin, tenant, lender)
    operator = Operator(tmp_path_factory.mktemp("kept-volumes"), fault_proxy, testbed)
    delete_identity(testbed_admin, tenant)
    plan_run, plan_file = operator.plan("project", tenant.project_id, name="kept")
    assert plan_run.code == 0, plan_run
    # Tagged after the plan was shown: apply's re-check must notice.
    testbed_admin.block_storage.set_volume_metadata(volumes["late"], **KEEP)
    fault_proxy.clear()
    apply_run = operator("apply", str(plan_file), "--yes", "-f", "json")
    requests = fault_proxy.seen()
    try:
        yield World(
            tenant, lender, volumes, servers, plan_run, load_plan(plan_file), apply_run, requests
        )
    finally:
        _clean_up(testbed_admin, servers, volumes)


def _clean_up(admin: Connection, servers: dict[str, str], volumes: dict[str, str]) -> None:
    """What reaper kept on purpose, so the farm's final reap finds nothing it must keep."""
    for server_id in servers.values():
        admin.compute.delete_server(server_id, ignore_missing=True)
    for server_id in servers.values():
        server = admin.compute.find_server(server_id, all_projects=True)
        if server is not None:
            admin.compute.wait_for_delete(server, wait=WAIT)
    for name, volume_id in volumes.items():
        if name != "foreign":  # the lender's: the farm reaps it with its project
            admin.block_storage.delete_volume(volume_id, ignore_missing=True)


def step_ids(plan: Plan) -> list[str]:
    return [s.id for s in plan.steps]


def attachment_id(world: World, server: str, volume: str) -> str:
    return f"{world.servers[server]}:{world.volumes[volume]}"


def test_the_plan_detaches_kept_data_volumes_before_their_server_goes(world: World) -> None:
    order = step_ids(world.plan)
    server_step = f"delete:compute.server:{world.servers['image']}"
    for volume in ("data", "foreign"):
        detach = f"delete:compute.volume_attachment:{attachment_id(world, 'image', volume)}"
        assert order.index(detach) < order.index(server_step), (volume, order)
        step = next(s for s in world.plan.steps if s.id == detach)
        assert server_step in {s.id for s in world.plan.steps if detach in s.depends_on}
        assert "delete_on_termination" in step.reason


def test_a_detach_is_confirmed_by_the_volumes_own_attachment_list(world: World) -> None:
    """The foreign volume is not the deleted project's: a listing of that project's
    volumes would never show it, so "not listed" would confirm its detach at once and
    let the server's deletion (and Nova's delete_on_termination) race the detach.
    Between the detach and the server's deletion, reaper reads the volume itself."""
    server, foreign = world.servers["image"], world.volumes["foreign"]
    paths = [(s.service, s.method, s.path.split("?", 1)[0]) for s in world.requests]
    detach = next(
        i
        for i, (svc, method, path) in enumerate(paths)
        if svc == "compute"
        and method == "DELETE"
        and path.endswith(f"/servers/{server}/os-volume_attachments/{foreign}")
    )
    deleted = next(
        i
        for i, (svc, method, path) in enumerate(paths)
        if svc == "compute" and method == "DELETE" and path.endswith(f"/servers/{server}")
    )
    reads = [
        path
        for svc, method, path in paths[detach:deleted]
        if svc == "block-storage" and method == "GET" and path.endswith(f"/volumes/{foreign}")
    ]
    assert detach < deleted and reads, paths[detach : deleted + 1]


def test_the_plan_keeps_a_server_booted_from_a_kept_volume_and_says_why(world: World) -> None:
    decisions = {d.resource.id: d for d in world.plan.decisions}
    bfv = decisions[world.servers["bfv"]]
    assert bfv.verdict is Verdict.SKIP
    assert "root volume" in bfv.reason and world.volumes["boot"] in bfv.reason
    assert not [s for s in world.plan.steps if s.resource.id == world.servers["bfv"]]


def test_the_plan_says_a_volume_kept_on_termination_needs_no_detach(world: World) -> None:
    decisions = {d.resource.id: d for d in world.plan.decisions}
    spare = decisions[attachment_id(world, "image", "spare")]
    assert spare.verdict is Verdict.SKIP
    assert "delete_on_termination is false" in spare.reason


def test_every_volume_to_be_kept_survives_the_apply(
    world: World, testbed_admin: Connection
) -> None:
    bs = testbed_admin.block_storage
    for name in ("boot", "data", "spare", "foreign", "late"):
        volume = bs.find_volume(world.volumes[name], all_projects=True)
        assert volume is not None, f"the {name} volume was deleted"
        assert volume.status in ("available", "in-use"), (name, volume.status)
    for name in ("data", "spare", "foreign"):
        assert bs.get_volume(world.volumes[name]).attachments == [], name
    assert bs.find_volume(world.volumes["plain"], all_projects=True) is None


def test_everything_else_the_project_owned_is_gone(world: World, testbed_admin: Connection) -> None:
    held = holdings(testbed_admin, world.project_id)
    assert set(held["servers"]) == {world.servers["bfv"], world.servers["late"]}
    assert set(held["volumes"]) == {world.volumes[n] for n in ("boot", "data", "spare", "late")}
    assert held["routers"] == {} and held["floating_ips"] == {}
    statuses = {(row["Type"], row["ID"]): row["Status"] for row in world.apply_run.json()}
    assert statuses[("server", world.servers["image"])] == "done", world.apply_run


def test_a_volume_kept_after_the_plan_was_shown_keeps_its_server(world: World) -> None:
    statuses = {(row["Type"], row["ID"]): row for row in world.apply_run.json()}
    late = statuses[("server", world.servers["late"])]
    assert late["Status"] == "skipped", world.apply_run
