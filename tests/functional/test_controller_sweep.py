"""The controller's sweep as operators run it: its start-up full scan, in a process of its own.

A project is deleted while no controller listens (its notification reaches
nobody) and leaves a network behind. A controller started afterwards, its
sweep enabled, finds the project in the full scan every start-up makes,
read by a child process (the controller's own threads keep taking
notifications meanwhile: :mod:`reaper.cleanup.scanproc`), and opens its
tombstone with trigger ``sweep``. Dry-run: the controller plans and holds,
touching nothing of the shared testbed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from reaper.model import IdentityKind, IdentityRef, TriggerSource
from tests.functional.controller_fixtures import ControllerProcess

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

SWEEP = (
    "[sweep]\n"
    "enabled = true\n"
    "interval = 60\n"  # the shortest: the first sweep comes one interval after the start
    "min_age = 0\n"
    # Other tests' deleted tenants are orphans too on the shared testbed: no hold.
    "max_orphans = 0\n"
    "max_orphan_fraction = 0\n"
)


def test_a_deletion_nobody_heard_is_found_by_the_start_up_full_scan_in_a_child(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    project = testbed_admin.identity.create_project(name=f"unheard-{secrets.token_hex(3)}")
    network = testbed_admin.network.create_network(name="left-behind", project_id=project.id)
    testbed_admin.identity.delete_project(project)
    try:
        # The fixture's config has "[sweep] enabled = false"; a later section wins.
        controller = controllers(dry_run=True, extra=SWEEP).start()
        ref = IdentityRef(IdentityKind.PROJECT, project.id)
        deadline = time.monotonic() + 300
        while (found := controller.tombstone(ref)) is None and time.monotonic() < deadline:
            time.sleep(1)
        assert found is not None, controller.log()[-4000:]
        assert {t.source for t in found.triggers} == {TriggerSource.SWEEP}

        scans = [
            json.loads(line)
            for line in controller.log().splitlines()
            if "resource scan started in a process of its own" in line
        ]
        assert scans, controller.log()[-3000:]
        assert controller.process is not None
        assert controller.process.pid not in {scan["pid"] for scan in scans}
    finally:
        testbed_admin.network.delete_network(network, ignore_missing=True)
