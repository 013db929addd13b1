"""Every documented form of credentials, against the testbed's real Keystone.

For each form of ``[service_credentials]``, one test starts the real
``reaper-controller`` with it, deletes a real project in Keystone and sees
the project's network gone; another runs ``reaper plan`` with the same
configuration for a deleted project whose network is tagged ``reaper:keep``
(so no controller anywhere on the shared testbed removes it first) and sees
that network in the plan, protected. The credentials are those of a service
user made the way doc/install.md says (``credential_fixtures.py``).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.functional.controller_fixtures import ControllerProcess
from tests.functional.credential_fixtures import ServiceUser

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

SETTLED = {TombstoneState.COMPLETE, TombstoneState.PARTIAL, TombstoneState.REFUSED}


def password_with_names(user: ServiceUser) -> str:
    return (
        "auth_type = password\n"
        f"auth_url = {user.auth_url}\n"
        f"username = {user.user_name}\n"
        f"password = {user.password}\n"
        f"project_name = {user.project_name}\n"
        f"user_domain_name = {user.domain_name}\n"
        f"project_domain_name = {user.domain_name}\n"
        f"region_name = {user.region}\n"
    )


FORMS: dict[str, Callable[[ServiceUser], str]] = {
    "password with names": password_with_names,
}


def reaper(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The ``reaper`` command, as an operator runs it, with no OS_* variable but ``env``'s."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("reaper")), *args],
        env={**environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_conf(directory: Path, credentials: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "reaper.conf"
    path.write_text(
        f"[DEFAULT]\nstate_path = {directory / 'state'}\n[service_credentials]\n{credentials}"
    )
    return path


def deleted_project(admin: Connection, *, kept: bool) -> tuple[str, str]:
    """A project with one network, deleted in Keystone: (project id, network id)."""
    project = admin.identity.create_project(name=f"creds-{secrets.token_hex(3)}")
    network = admin.network.create_network(name=f"{project.name}-net", project_id=project.id)
    if kept:
        admin.network.set_tags(network, ["reaper:keep"])
    admin.identity.delete_project(project)
    return project.id, network.id


def plan_rows(run: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert run.returncode == 0, run.stderr
    return list(json.loads(run.stdout))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_reaper_plan_reads_the_cloud_with(
    form: str, tmp_path: Path, testbed_admin: Connection, service_user: ServiceUser
) -> None:
    conf = write_conf(tmp_path, FORMS[form](service_user))
    project_id, network_id = deleted_project(testbed_admin, kept=True)
    try:
        run = reaper("--config-file", str(conf), "plan", "--project", project_id, "-f", "json")

        found = {row["ID"]: row["Verdict"] for row in plan_rows(run)}
        assert found.get(network_id) == "protect", run.stdout
    finally:
        testbed_admin.network.delete_network(network_id, ignore_missing=True)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_the_controller_cleans_up_with(
    form: str,
    testbed_admin: Connection,
    service_user: ServiceUser,
    controllers: Callable[..., ControllerProcess],
) -> None:
    controller = controllers(credentials=FORMS[form](service_user)).start()
    project_id, network_id = deleted_project(testbed_admin, kept=False)

    done = controller.wait_for(IdentityRef(IdentityKind.PROJECT, project_id), SETTLED)

    assert done.state is TombstoneState.COMPLETE, done.reason
    assert testbed_admin.network.find_network(network_id) is None
    plan = controller.store.plans.load(done.plan_hash)  # type: ignore[arg-type]
    assert network_id in {s.resource.id for s in plan.steps}
