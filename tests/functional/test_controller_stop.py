"""SIGTERM: a controller stops within its grace, whatever waits to be retried.

A real ``reaper-controller`` subprocess, behind the fault proxy, cleans up a
deleted project whose one security group Neutron answers 429 (Retry-After:
60) for: the step sits in a minute-long retry backoff when the controller
is told to stop. It must exit 0 within ``shutdown_grace``, give the
tombstone back claimable (not failed, the step without an outcome), and the
next start finishes the cleanup once Neutron answers again, from the plan's
own discovery (the plan is younger than ``[executor] resume_recheck_after``).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reaper.model import IdentityKind, IdentityRef, OutcomeStatus, TombstoneState
from tests.faultproxy import FaultProxy, Faults, Rule
from tests.functional.controller_fixtures import ControllerProcess
from tests.functional.reaping import PROXIED_CLOUD, admin_auth
from tests.testbed.holdings import owned_ids
from tests.testbed.tenant import TenantSpec, build_tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

GRACE = 5.0
ONE_GROUP = TenantSpec(
    servers=0,
    volumes=0,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    ports=0,
    images=0,
    keypairs=0,
    security_groups=1,
)
#: Neutron asks to come back in a minute, every time.
NEUTRON_BUSY = Faults(
    rules=(Rule("DELETE", r"/security-groups/[^/]+$", fault="429"),), retry_after=60
)


#: The listings only a discovery sends for this tenant (it has no server nor volume).
DISCOVERY = re.compile(r"/servers/detail\?|/volumes/detail\?|/images\?")


def retrying(reaper: ControllerProcess, tombstone_id: str, timeout: float = 120.0) -> None:
    """Wait until a step of the tombstone has failed once and waits to be retried."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in reaper.audit():
            extra = record["reaper"].get("extra", {})
            if record["reaper"].get("tombstone_id") == tombstone_id and "retry_in" in extra:
                return
        time.sleep(0.3)
    raise AssertionError(f"no retry was recorded:\n{reaper.log()[-3000:]}")


def test_sigterm_during_a_retry_backoff_exits_0_within_the_grace_and_leaves_the_step(
    testbed: Testbed,
    testbed_admin: Connection,
    controllers: Callable[..., ControllerProcess],
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    clouds = fault_proxy.write_clouds_yaml(
        tmp_path / "clouds.yaml", PROXIED_CLOUD, admin_auth(testbed), region_name=testbed.region
    )
    reaper = controllers(
        name="stopper",
        credentials=f"cloud = {PROXIED_CLOUD}\n",
        env={"OS_CLIENT_CONFIG_FILE": str(clouds)},
        extra=f"[DEFAULT]\nshutdown_grace = {GRACE}\n",
    )
    tenant = build_tenant(testbed_admin, ONE_GROUP, name=f"stop-{secrets.token_hex(3)}")
    ident = IdentityRef(IdentityKind.PROJECT, tenant.project_id)
    with fault_proxy.faulting(NEUTRON_BUSY):
        reaper.start()
        delete_identity(testbed_admin, tenant)
        found = reaper.wait_for(ident, {TombstoneState.EXECUTING})
        retrying(reaper, found.id)

        asked = time.monotonic()
        code = reaper.terminate(timeout=60)
        took = time.monotonic() - asked

    assert code == 0, reaper.log()[-3000:]
    assert took < GRACE, f"stopped after {took:.1f}s"
    left = reaper.tombstone(ident)
    assert left is not None
    assert (left.state, left.claimed_by) == (TombstoneState.EXECUTING, None), left
    assert left.plan_hash is not None
    outcomes = reaper.store.plans.outcomes(left.plan_hash)
    assert all(o.status is not OutcomeStatus.FAILED for o in outcomes.values()), outcomes

    fault_proxy.clear()
    reaper.start()  # Neutron answers again: the next claim finishes the work
    done = reaper.wait_for(ident, {TombstoneState.COMPLETE, TombstoneState.PARTIAL})
    assert done.state is TombstoneState.COMPLETE, done.reason
    # The plan is seconds old: the run goes on from its discovery (resume_recheck_after).
    rediscovered = [
        s.path for s in fault_proxy.seen() if s.method == "GET" and DISCOVERY.search(s.path)
    ]
    assert rediscovered == []
    assert owned_ids(testbed_admin, tenant.project_id) == {}
    assert reaper.terminate() == 0
