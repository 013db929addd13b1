"""Evidence copies on a real Cinder, Nova and Glance: one per step, whatever happens to the step.

A deleted project's volume and server get ``evidence_snapshot`` (and nothing
else). The apply goes through the fault proxy, which loses the answer to the
first volume-clone and the first server-image request after the service made
the copy; the server's image never becomes active (the testbed's fake virt
driver uploads nothing), so its step times out and is retried until the
executor gives up, as a slow copy would. Then the same plan is applied again
from a second host (another state directory): a re-execution. Through all of
it, each resource must have exactly one evidence copy.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from reaper.actions import evidence
from tests.faultproxy import FaultProxy, Faults, Rule
from tests.functional.reaping import Operator, Run, TenantFarm
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

SPEC = TenantSpec(
    servers=1,
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
TENANTS = {"evidence": SPEC}
POLICY = """\
version: 1
policies:
  - name: keep-evidence
    description: Copy what the deleted project left, and touch nothing else.
    triggers: [identity.project.deleted]
    resources: [compute.server, block_storage.volume]
    filters:
      - {key: reaper_relation, value: owner}
    actions:
      - {type: evidence_snapshot, retention: 1d}
"""
#: The service makes the copy, and the client never hears of it.
LOST = Faults(
    rules=(
        Rule("POST", r"/volumes$", fault="lost-reset", times=1),
        Rule("POST", r"/servers/[^/]+/action$", fault="lost-reset", times=1),
    )
)
#: Seconds an attempt waits for its copy: the image never comes, so each attempt times out.
WAIT = 3
EXECUTOR = {"retry_attempts": 3, "retry_max_wait": 1}


@dataclasses.dataclass
class World:
    tenant: Tenant
    first: Run
    again: Run

    @property
    def server_id(self) -> str:
        return self.tenant.server_ids[0]

    @property
    def volume_id(self) -> str:
        return self.tenant.volume_ids[0]


def volume_copies(admin: Connection, volume_id: str) -> list[Any]:
    source = f"block_storage.volume:{volume_id}"
    return [
        v
        for v in admin.block_storage.volumes(details=True, all_projects=True)
        if (v.metadata or {}).get(evidence.SOURCE_KEY) == source
    ]


def image_copies(admin: Connection, server_id: str) -> list[Any]:
    source = f"compute.server:{server_id}"
    return [
        i
        for i in admin.image.images(visibility="all")
        if (i.properties or {}).get(evidence.SOURCE_KEY) == source
    ]


@pytest.fixture(scope="module")
def world(
    tenant_farm: TenantFarm,
    testbed: Testbed,
    testbed_admin: Connection,
    fault_proxy: FaultProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    tenant = tenant_farm.order("evidence", SPEC).result()
    home = tmp_path_factory.mktemp("evidence")
    policy = home / "evidence.yaml"
    policy.write_text(POLICY)
    first_host = Operator(home / "first", fault_proxy, testbed, executor=EXECUTOR)
    second_host = Operator(home / "second", fault_proxy, testbed, executor=EXECUTOR)
    # One deployment, one audit signing key: the second host verifies the first's plan.
    for name in ("audit.pem", "audit.pem.pub"):
        shutil.copyfile(home / "first" / "keys" / name, home / "second" / "keys" / name)
    delete_identity(testbed_admin, tenant)
    planned, plan_file = first_host.plan("project", tenant.project_id, policy=policy)
    assert planned.code == 0, planned
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evidence, "WAIT_SECONDS", WAIT)
        with fault_proxy.faulting(LOST):
            first = first_host("apply", str(plan_file), "--yes", "-f", "json")
        again = second_host("apply", str(plan_file), "--yes", "-f", "json")
    try:
        yield World(tenant, first, again)
    finally:
        for volume in volume_copies(testbed_admin, tenant.volume_ids[0]):
            testbed_admin.block_storage.delete_volume(volume.id, ignore_missing=True)
        for image in image_copies(testbed_admin, tenant.server_ids[0]):
            testbed_admin.image.delete_image(image.id, ignore_missing=True)


def statuses(run: Run) -> dict[str, str]:
    return {row["Type"]: row["Status"] for row in run.json()}


def test_a_volume_copy_whose_answer_was_lost_is_made_once(
    world: World, testbed_admin: Connection
) -> None:
    assert statuses(world.first)["volume"] == "done", world.first
    copies = volume_copies(testbed_admin, world.volume_id)
    assert len(copies) == 1, [(c.id, c.status) for c in copies]
    assert copies[0].status == "available"


def test_a_slow_server_image_is_waited_for_not_started_again(
    world: World, testbed_admin: Connection
) -> None:
    assert statuses(world.first)["server"] == "failed", world.first
    copies = image_copies(testbed_admin, world.server_id)
    assert len(copies) == 1, [(c.id, c.status) for c in copies]


def test_executing_the_plan_again_finds_the_copies_it_made(
    world: World, testbed_admin: Connection
) -> None:
    assert statuses(world.again)["volume"] == "done", world.again
    assert len(volume_copies(testbed_admin, world.volume_id)) == 1
    assert len(image_copies(testbed_admin, world.server_id)) == 1
