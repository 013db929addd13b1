"""``openstack reaper ...``: reaper's commands under python-openstackclient, with OSC's cloud."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

OPENSTACK = str(Path(sys.executable).with_name("openstack"))


def test_openstack_reaper_plan_uses_the_os_cloud_of_osc(
    testbed: Testbed, testbed_admin: Connection, tmp_path: Path
) -> None:
    project = testbed_admin.identity.create_project(name=f"reaper-osc-{secrets.token_hex(4)}")
    testbed_admin.identity.delete_project(project.id)
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env |= {"OS_CLIENT_CONFIG_FILE": str(testbed.clouds_yaml), "OS_CLOUD": testbed.cloud_name}

    run = subprocess.run(
        [OPENSTACK, "--reaper-config-file", str(conf), "reaper", "plan", "--project",
         project.id, "-f", "json", "-c", "Type", "-c", "Verdict"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert rows and set(rows[0]) == {"Type", "Verdict"}
    assert {"Type": "quota", "Verdict": "act"} in rows
