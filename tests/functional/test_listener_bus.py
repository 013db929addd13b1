"""The controller's listener on the real broker: what no message on the bus can do to it.

Each test starts ``reaper-controller`` against the testbed (its Keystone and
RabbitMQ vhost) and publishes on the ``keystone`` exchange as anyone with
bus access could, then checks the audit trail and that a real deletion made
in Keystone afterwards is still cleaned up.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.functional.controller_fixtures import Bus, ControllerProcess

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional


def rejections(
    reaper: ControllerProcess, count: int, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """The first ``count`` ``receive`` failures of the trail, waiting for them."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = [
            r for r in reaper.audit() if r["action"] == "receive" and r["outcome"] == "failure"
        ]
        if len(found) >= count:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{len(found)} of {count} rejections audited:\n{reaper.log()[-3000:]}")


def a_real_deletion_goes_through(admin: Connection, reaper: ControllerProcess) -> None:
    project = admin.identity.create_project(name=f"after-{secrets.token_hex(3)}")
    admin.identity.delete_project(project)
    done = reaper.wait_for(IdentityRef(IdentityKind.PROJECT, project.id), {TombstoneState.COMPLETE})
    assert done.state is TombstoneState.COMPLETE
    assert reaper.running


def test_a_message_id_too_long_for_postgresql_is_audited_and_the_listener_carries_on(
    testbed_admin: Connection,
    controllers: Callable[..., ControllerProcess],
    bus: Bus,
    pg_url: str,
) -> None:
    """It used to fail its batch's transaction, be requeued and fail again, forever."""
    reaper = controllers(store_url=pg_url).start()
    long_id = f"{uuid.uuid4()}-" + "m" * 300
    forged = IdentityRef(IdentityKind.PROJECT, uuid.uuid4().hex)

    bus.notification("identity.project.deleted", {"resource_info": forged.id}, message_id=long_id)

    (rejected,) = rejections(reaper, 1)
    assert rejected["reaper"]["extra"]["code"] == "bad_field"
    assert rejected["target"]["id"] == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()[:16]
    a_real_deletion_goes_through(testbed_admin, reaper)
    assert reaper.tombstone(forged) is None
