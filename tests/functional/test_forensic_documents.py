"""The forensic policy keeps what a Swift container held and what a Heat stack was.

On the real testbed (Swift and Heat), a deleted project has a container of
two objects with metadata, and a stack whose output is a generated password.
``reaper plan --policy policies/forensic.yaml`` and ``reaper apply`` run:
reaper's own Swift account then holds one document per container and per
stack (the listing and each object's metadata; the template, outputs and
events, the password masked), labelled with its source and a deletion date,
and the container and the stack themselves wait out the grace period.

One tenant with nothing but a network: CI budget.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reaper.actions.documents import CONTAINER
from reaper.model import Plan
from tests.functional.reaping import Operator, Run, TenantFarm, load_plan
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

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
TENANTS = {"forensic-documents": SPEC}
FORENSIC = Path(__file__).resolve().parents[2] / "policies" / "forensic.yaml"
TEMPLATE = {
    "heat_template_version": "2021-04-16",
    "description": "evidence of what this stack was",
    "resources": {"pw": {"type": "OS::Heat::RandomString", "properties": {"length": 24}}},
    "outputs": {
        "admin_password": {"value": {"get_attr": ["pw", "value"]}},
        "purpose": {"value": "web tier"},
    },
}


@dataclasses.dataclass
class World:
    tenant: Tenant
    stack_id: str
    password: str
    plan: Plan
    apply_run: Run
    #: Every evidence document in reaper's own account, by the source it names.
    documents: dict[str, tuple[dict[str, Any], dict[str, str]]]

    @property
    def container_id(self) -> str:
        return f"{self.tenant.project_id}/case-files"


def _documents(admin: Connection, source_ids: set[str]) -> dict[str, tuple[dict, dict]]:
    own = admin.object_store.get_endpoint().rstrip("/")
    listing = admin.object_store.get(f"{own}/{CONTAINER}?format=json").json()
    found = {}
    for entry in listing:
        answer = admin.object_store.get(f"{own}/{CONTAINER}/{entry['name']}")
        headers = {k.lower(): v for k, v in answer.headers.items()}
        source = headers.get("x-object-meta-reaper-evidence-of", "")
        if source.split(":", 1)[-1] in source_ids:
            found[source] = (answer.json(), headers)
    return found


@pytest.fixture(scope="module")
def world(
    testbed_extras: Testbed,
    testbed_more: Testbed,
    tenant_farm: TenantFarm,
    testbed_admin: Connection,
    fault_proxy: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    tenant = tenant_farm.order("forensic-documents", SPEC).result()
    user = tenant.connect()
    user.object_store.create_container("case-files")
    for name in ("a.txt", "b.txt"):
        user.object_store.upload_object(
            "case-files", name, data=name.encode(), metadata={"origin": f"upload {name}"}
        )
    stack = user.orchestration.create_stack(name="evidence-stack", template=TEMPLATE)
    stack = user.orchestration.wait_for_status(
        stack, status="CREATE_COMPLETE", failures=["CREATE_FAILED"], interval=1, wait=180
    )
    shown = user.orchestration.get_stack(stack.id)
    password = next(o["output_value"] for o in shown.outputs if o["output_key"] == "admin_password")
    operator = Operator(tmp_path_factory.mktemp("forensic"), fault_proxy, testbed_extras)
    delete_identity(testbed_admin, tenant)
    plan_run, plan_file = operator.plan("project", tenant.project_id, policy=FORENSIC)
    assert plan_run.code == 0, plan_run
    apply_run = operator("apply", str(plan_file), "--yes", "-f", "json")
    documents = _documents(testbed_admin, {f"{tenant.project_id}/case-files", stack.id})
    try:
        yield World(tenant, stack.id, password, load_plan(plan_file), apply_run, documents)
    finally:  # the farm reaps the project itself; the evidence is reaper's own
        own = testbed_admin.object_store.get_endpoint().rstrip("/")
        for entry in testbed_admin.object_store.get(f"{own}/{CONTAINER}?format=json").json():
            testbed_admin.object_store.delete(f"{own}/{CONTAINER}/{entry['name']}")


def test_the_containers_listing_and_object_metadata_are_kept_before_it_goes(
    world: World,
) -> None:
    kept, headers = world.documents[f"object_store.container:{world.container_id}"]
    objects = {o["name"]: o for o in kept["objects"]}
    assert set(objects) == {"a.txt", "b.txt"}
    assert objects["a.txt"]["bytes"] == 5
    assert objects["a.txt"]["headers"]["x-object-meta-origin"] == "upload a.txt"
    assert kept["container"]["project_id"] == world.tenant.project_id
    assert int(headers["x-delete-at"]) > 0


def test_the_stacks_template_outputs_and_events_are_kept_with_the_password_masked(
    world: World,
) -> None:
    kept, _ = world.documents[f"orchestration.stack:{world.stack_id}"]
    assert kept["template"]["description"] == "evidence of what this stack was"
    outputs = {o["output_key"]: o["output_value"] for o in kept["stack"]["outputs"]}
    assert outputs["purpose"] == "web tier"
    assert outputs["admin_password"] != world.password
    assert world.password not in json.dumps(kept)
    statuses = {e["resource_status"] for e in kept["events"]}
    assert "CREATE_COMPLETE" in statuses, kept["events"]


def test_the_evidence_comes_first_and_the_deletion_waits_out_the_grace_period(
    world: World, testbed_admin: Connection
) -> None:
    steps = {s.id: s for s in world.plan.steps}
    for ref in (
        f"object_store.container:{world.container_id}",
        f"orchestration.stack:{world.stack_id}",
    ):
        evidence, delete = steps[f"evidence_snapshot:{ref}"], steps[f"delete:{ref}"]
        assert evidence.id in delete.depends_on and delete.after is not None
    stacks = testbed_admin.orchestration.get(
        "/stacks", params={"tenant": world.tenant.project_id}
    ).json()["stacks"]
    assert [s["id"] for s in stacks] == [world.stack_id], world.apply_run
    account = testbed_admin.object_store.get_endpoint().rstrip("/").rsplit("/", 1)[0]
    listing = testbed_admin.object_store.get(
        f"{account}/AUTH_{world.tenant.project_id}/case-files?format=json"
    ).json()
    assert [o["name"] for o in listing] == ["a.txt", "b.txt"]
