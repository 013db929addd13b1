"""Reclaim, measured: a tenant of known flavors and volume sizes reports exactly those amounts.

The controller runs against the real testbed; the tenant has two servers of
the ``testbed.tiny`` flavor (1 VCPU, 64 MB, 1 GB each), two 2 GB volumes, a
floating IP, and an allocation that outlived its server (a Placement
consumer of the project with no server behind it, as a local delete
leaves). Placement's own figures are read before the project is deleted
and after reaper is done: the reclaimed totals reaper reports, in its store,
its audit trail, ``reaper tombstone show`` and ``/metrics``, are those.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from reaper.cli.main import main
from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.functional.controller_fixtures import ControllerProcess
from tests.testbed.tenant import TenantSpec, build_tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

SPEC = TenantSpec(
    servers=2,
    volumes=2,
    attached_volumes=1,
    snapshots=0,
    floating_ips=1,
    ports=0,
    images=0,
    keypairs=0,
    security_groups=0,
    volume_size_gb=2,
)
#: What the lost allocation still claims on the host.
LOST = {"VCPU": 1, "MEMORY_MB": 32, "DISK_GB": 1}
#: Two testbed.tiny servers and the lost allocation, as Placement counts them.
EXPECTED = {
    "placement.VCPU": 2 * 1 + 1,
    "placement.MEMORY_MB": 2 * 64 + 32,
    "placement.DISK_GB": 2 * 1 + 1,
    "block_storage.gigabytes": 2 * 2,
    "block_storage.volumes": 2,
    "network.floatingip": 1,
}
SETTLED = {TombstoneState.COMPLETE, TombstoneState.PARTIAL}


def usages(admin: Connection, project_id: str) -> dict[str, int]:
    answer = admin.placement.get(f"/usages?project_id={project_id}", microversion="1.9")
    return answer.json()["usages"]


def lose_an_allocation(admin: Connection, testbed: Testbed, project_id: str, user_id: str) -> str:
    """A consumer of the project on the compute host, with no server behind it."""
    host = testbed.resources["hypervisors"][0]
    providers = admin.placement.get(f"/resource_providers?name={host}", microversion="1.14")
    provider = providers.json()["resource_providers"][0]["uuid"]
    consumer = str(uuid.uuid4())
    answer = admin.placement.put(
        f"/allocations/{consumer}",
        json={
            "allocations": {provider: {"resources": LOST}},
            "project_id": project_id,
            "user_id": user_id,
            "consumer_generation": None,
        },
        microversion="1.28",
    )
    assert answer.status_code == 204, answer.text
    return consumer


def tombstone_show(controller: ControllerProcess, tombstone_id: str) -> dict[str, str]:
    out = io.StringIO()
    argv = ["--config-file", str(controller.conf_path), "tombstone", "show", tombstone_id]
    with contextlib.redirect_stdout(out):
        assert main([*argv, "-f", "json"]) == 0
    return json.loads(out.getvalue())


def test_a_deleted_tenant_reports_exactly_what_placement_and_the_quotas_gave_back(
    testbed: Testbed,
    testbed_admin: Connection,
    controllers: Callable[..., ControllerProcess],
) -> None:
    reaper = controllers().start()
    tenant = build_tenant(testbed_admin, SPEC, name=f"reclaim-{secrets.token_hex(3)}")
    lost = lose_an_allocation(testbed_admin, testbed, tenant.project_id, tenant.user_id)
    held = usages(testbed_admin, tenant.project_id)
    assert {f"placement.{rc}": v for rc, v in held.items()} == {
        k: v for k, v in EXPECTED.items() if k.startswith("placement.")
    }

    # Only the project: the user's own cleanup (what it created) would race this one
    # and take things away before reaper's first reading.
    testbed_admin.identity.delete_project(tenant.project_id)
    done = reaper.wait_for(IdentityRef(IdentityKind.PROJECT, tenant.project_id), SETTLED)

    assert done.state is TombstoneState.COMPLETE, done.reason
    assert set(usages(testbed_admin, tenant.project_id).values()) <= {0}
    gone = testbed_admin.placement.get(f"/allocations/{lost}", microversion="1.28").json()
    assert gone["allocations"] == {}
    record = reaper.store.reclaim.get(done.id)
    assert record is not None and record.after is not None
    before, after = record.before["figures"], record.after["figures"]
    reclaimed = {name: before[name] - after[name] for name in EXPECTED}
    assert reclaimed == EXPECTED
    # Nova refuses a deleted project's quotas: asked once, before, and not by the readings after.
    assert "compute" in record.before["unavailable"]
    assert "compute" not in record.after["unavailable"]
    assert not [name for name in after if name.startswith("compute.")]
    shown = tombstone_show(reaper, done.id)["Reclaimed"]
    for name, amount in EXPECTED.items():
        assert f"{name} {amount}" in shown.splitlines(), shown
    # The counter sums every project this controller cleaned up, and on a shared testbed
    # it hears other runs' deletions too: read before the records (a run is audited
    # before it is counted), it lies between this project's amounts and the total.
    counted = {name: reaper.metric("reaper_reclaimed_total", resource=name) for name in EXPECTED}
    records = [
        r
        for r in reaper.audit()
        if r.get("reason", {}).get("reasonCode", "").startswith("reclaimed")
    ]
    mine = [r for r in records if r["reaper"].get("tombstone_id") == done.id]
    assert mine and {k: mine[-1]["reaper"]["extra"]["reclaimed"][k] for k in EXPECTED} == EXPECTED
    last = {r["reaper"]["tombstone_id"]: r["reaper"]["extra"]["reclaimed"] for r in records}
    for name, amount in EXPECTED.items():
        total = sum(max(0, amounts.get(name, 0)) for amounts in last.values())
        assert amount <= counted[name] <= total, (name, counted[name], total)
    assert reaper.terminate() == 0
    delete_identity(testbed_admin, tenant)
