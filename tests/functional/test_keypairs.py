"""A deleted user's keypairs, on a real Nova: only theirs are planned, never reaper's own.

Nova honours ``user_id`` on keypair requests only from microversion 2.10;
below it (an old Nova, or anything in front of it that drops the
microversion header) it answers with the caller's own keypairs, whoever is
named, and its listing does not say whose they are. The user of a live
project is deleted in Keystone and has two keypairs; reaper's own user (the
testbed admin, whom reaper runs as) has one too. The fault proxy plays the Nova that
cannot honour ``user_id`` by dropping the microversion headers of keypair
requests.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reaper.model import Plan, Verdict
from tests.faultproxy import MICROVERSION_HEADERS, FaultProxy, Faults, Strip
from tests.functional.reaping import Operator, Run, TenantFarm, load_plan
from tests.testbed.tenant import Tenant, TenantSpec

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

#: A user with nothing (their keypairs are made after their deletion, see ``world``).
KEYPAIR_SPEC = TenantSpec(
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
#: How many keypairs the deleted user gets.
KEYPAIRS = 2
#: Seconds for the controllers of other sessions sharing a testbed to finish with the deletion.
SETTLE = 5.0
#: What this module builds (the session builds every module's tenants at once).
TENANTS = {"keypairs-leaver": KEYPAIR_SPEC}
#: Nova as it answers when it cannot honour user_id: the microversion never reaches it.
IGNORES_USER_ID = Faults(strips=(Strip(r"/os-keypairs", MICROVERSION_HEADERS),))


def public_key() -> str:
    """A fresh ed25519 public key (Nova no longer generates keypairs)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    openssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return openssh.decode()


@dataclasses.dataclass
class World:
    leaver: Tenant
    #: reaper's own keypair (the admin user reaper runs as)
    own_keypair: str
    operator: Operator
    #: ``reaper plan --user`` through a Nova that cannot honour user_id, then through one that can
    ignored: Run
    ignored_plan: Plan
    planned: Run
    plan_file: Path

    def keypair_refs(self) -> set[str]:
        return {f"{self.leaver.user_id}:{name}" for name in self.leaver.keypair_names}


@pytest.fixture(scope="module")
def world(
    tenant_farm: TenantFarm,
    testbed: Testbed,
    testbed_admin: Connection,
    fault_proxy: FaultProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    """The user is deleted first, and given keypairs (by an admin) after.

    On a testbed shared with other sessions, their controllers hear the same
    deletion and would reap keypairs the user had then; Nova does not check
    that a keypair's user exists, so making them a few seconds later keeps
    this module's keypairs its own. Both plans are made at once after, and
    the keypairs must still be there when they are made.
    """
    leaver = tenant_farm.order("keypairs-leaver", KEYPAIR_SPEC).result()
    compute = testbed_admin.compute
    own = compute.create_keypair(
        name=f"reaper-ft-own-{secrets.token_hex(3)}", public_key=public_key()
    ).name
    operator = Operator(tmp_path_factory.mktemp("keypairs"), fault_proxy, testbed)
    testbed_admin.identity.delete_user(leaver.user_id)
    time.sleep(SETTLE)
    leaver.keypair_names = [
        compute.create_keypair(
            name=f"{leaver.project_name}-key{i}",
            public_key=public_key(),
            user_id=leaver.user_id,
        ).name
        for i in range(KEYPAIRS)
    ]
    with fault_proxy.faulting(IGNORES_USER_ID):
        ignored, ignored_file = operator.plan("user", leaver.user_id, name="ignored")
    planned, plan_file = operator.plan("user", leaver.user_id, name="user")
    left = {k.name for k in compute.keypairs(user_id=leaver.user_id)}
    assert left == set(leaver.keypair_names), "another reaper took the keypairs meanwhile"
    try:
        yield World(leaver, own, operator, ignored, load_plan(ignored_file), planned, plan_file)
    finally:
        compute.delete_keypair(own, ignore_missing=True)


def keypairs_in(plan: Plan) -> set[str]:
    return {r.id for r in plan.resources if r.type == "compute.keypair"}


def test_a_nova_that_cannot_honour_user_id_leaves_keypairs_uninspected(world: World) -> None:
    plan = world.ignored_plan
    assert world.ignored.code == 5, world.ignored
    assert keypairs_in(plan) == set()
    assert not [s for s in plan.steps if s.resource.type == "compute.keypair"]
    assert any("microversion" in reason for reason in plan.incomplete), plan.incomplete


def test_only_the_deleted_users_keypairs_are_planned(world: World) -> None:
    plan = load_plan(world.plan_file)
    assert world.planned.code == 0, world.planned
    assert keypairs_in(plan) == world.keypair_refs()
    assert not [r for r in plan.resources if r.name == world.own_keypair]
    for decision in plan.decisions:
        if decision.resource.type == "compute.keypair":
            assert decision.verdict is Verdict.ACT, decision


def test_apply_deletes_them_by_owner_and_reapers_own_keypair_stays(
    world: World, fault_proxy: FaultProxy, testbed_admin: Connection
) -> None:
    fault_proxy.clear()

    applied = world.operator("apply", str(world.plan_file), "--yes", "-f", "json")

    assert applied.code == 0, applied
    wanted = {
        f"/v2.1/os-keypairs/{name}?user_id={world.leaver.user_id}"
        for name in world.leaver.keypair_names
    }
    deletes = {s.path for s in fault_proxy.mutations() if s.service == "compute"}
    # Each keypair is deleted by name *and owner* (unless a reaper sharing the testbed
    # got there first, which apply then reports as already gone).
    assert deletes <= wanted, deletes
    compute = testbed_admin.compute
    assert list(compute.keypairs(user_id=world.leaver.user_id)) == []
    assert compute.find_keypair(world.own_keypair) is not None
