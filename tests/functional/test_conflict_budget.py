"""A conflict that never clears spends its retry budget: the step is blocked, not retried for ever.

On the real testbed, a deleted project's volume has a snapshot that is not
the project's: an admin took it (it belongs to the admin project, which reaper
must not touch). Cinder refuses the volume's deletion for as long as that
snapshot exists (a 400 "... have snapshots", a conflict). The controller runs
with two attempts per run and a budget of three: the first run fails the step
and leaves the tombstone ``partial``; the second spends the budget, and the
step is ``blocked`` with Cinder's answer as its reason, the tombstone
``held`` with that reason (``reaper tombstone show``), and
``reaper_steps_blocked_total`` counts it. Without the budget the tombstone
would go ``partial`` and come back for ever, and the test times out waiting
for ``held``.

One tenant with one volume and no server: CI budget.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from reaper.cli.main import main
from reaper.model import IdentityKind, IdentityRef, OutcomeStatus, TombstoneState
from tests.functional.controller_fixtures import ControllerProcess
from tests.testbed.tenant import TenantSpec, build_tenant

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

SPEC = TenantSpec(
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
RETRY_ATTEMPTS = 2
BUDGET = 3
EXECUTOR = (
    "[executor]\n"
    f"retry_attempts = {RETRY_ATTEMPTS}\n"
    f"conflict_retry_budget = {BUDGET}\n"
    "retry_max_wait = 0.2\n"
)
WAIT = 300


def tombstone_show(controller: ControllerProcess, tombstone_id: str) -> dict[str, Any]:
    out = io.StringIO()
    argv = ["--config-file", str(controller.conf_path), "tombstone", "show", tombstone_id]
    with contextlib.redirect_stdout(out):
        assert main([*argv, "-f", "json"]) == 0
    return json.loads(out.getvalue())


def test_a_volume_kept_by_someone_elses_snapshot_is_blocked_and_its_tombstone_held(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    reaper = controllers(extra=EXECUTOR).start()
    tenant = build_tenant(testbed_admin, SPEC, name=f"budget-{secrets.token_hex(3)}")
    bs = testbed_admin.block_storage
    volume_id = tenant.volume_ids[0]
    snapshot = bs.create_snapshot(volume_id=volume_id, name="admins-evidence")
    bs.wait_for_status(snapshot, "available", wait=WAIT)
    try:
        testbed_admin.identity.delete_project(tenant.project_id)
        identity = IdentityRef(IdentityKind.PROJECT, tenant.project_id)
        held = reaper.wait_for(identity, {TombstoneState.HELD, TombstoneState.COMPLETE})

        step_id = f"delete:block_storage.volume:{volume_id}"
        assert held.state is TombstoneState.HELD, held.reason
        assert held.reason.startswith(f"blocked: {step_id}: retry budget spent"), held.reason
        assert "snapshot" in held.reason.lower(), held.reason
        outcome = reaper.store.plans.outcomes(held.plan_hash)[step_id]
        assert outcome.status is OutcomeStatus.BLOCKED
        # Two runs of two attempts: the attempts of the first run counted in the second.
        assert outcome.attempts == 2 * RETRY_ATTEMPTS, outcome
        shown = tombstone_show(reaper, held.id)
        assert shown["State"] == "held" and shown["Reason"] == held.reason, shown
        blocked = reaper.metric(
            "reaper_steps_blocked_total", action="delete", resource_type="block_storage.volume"
        )
        assert blocked == 1
        # What reaper must not touch is there, and so is what it could not delete.
        assert bs.get_snapshot(snapshot.id).status == "available"
        assert bs.get_volume(volume_id).status == "available"
        # The rest of the project went: a held tombstone blocks only its stuck step.
        assert testbed_admin.network.find_router(tenant.router_id) is None
        assert reaper.terminate() == 0
    finally:
        bs.delete_snapshot(snapshot.id, ignore_missing=True)
        bs.wait_for_delete(snapshot, wait=WAIT)
        bs.delete_volume(volume_id, ignore_missing=True)
