"""The always-protected admin project, named in reaper.conf and found by the real Keystone.

Clouds call it differently (``admin`` in ``Default`` after ``keystone-manage
bootstrap``, ``cloud-admin`` or another domain elsewhere): ``[DEFAULT]
admin_project_name`` and ``admin_project_domain_name`` say which, ``reaper
config check`` and the controller's start name it with its id, and a name
Keystone does not know fails closed (nothing is planned).
"""

from __future__ import annotations

import io
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reaper.cleanup.house import AdminProject
from reaper.cleanup.plan import make_plan
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import VerificationError
from reaper.cli.main import ReaperApp
from reaper.model import IdentityKind, IdentityRef
from reaper.policy import load_policies

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.functional.controller_fixtures import ControllerProcess
    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

DEFAULT_POLICY = str(Path(__file__).parents[2] / "policies" / "default.yaml")


@pytest.fixture
def cloud_admin(testbed_admin: Connection) -> Iterator[Any]:
    """A project ``cloud-admin-TAG`` in a domain ``infra-TAG``, as some clouds name theirs."""
    tag = secrets.token_hex(3)
    domain = testbed_admin.identity.create_domain(name=f"infra-{tag}")
    project = testbed_admin.identity.create_project(name=f"cloud-admin-{tag}", domain_id=domain.id)
    yield project, domain
    testbed_admin.identity.delete_project(project.id, ignore_missing=True)
    testbed_admin.identity.update_domain(domain.id, is_enabled=False)
    testbed_admin.identity.delete_domain(domain.id, ignore_missing=True)


def config_check(testbed: Testbed, tmp_path: Path, body: str, monkeypatch: Any) -> list[str]:
    """``reaper config check``'s lines for a reaper.conf whose [DEFAULT] adds ``body``."""
    path = tmp_path / "reaper.conf"
    path.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\ntransport_url = {testbed.transport_url}\n{body}"
        f"[service_credentials]\ncloud = {testbed.cloud_name}\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(testbed.clouds_yaml))
    app = ReaperApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    app.run(["-q", "--config-file", str(path), "config", "check"])
    return app.stdout.getvalue().splitlines()


def test_config_check_names_the_admin_project_reaper_conf_names_with_its_id(
    testbed: Testbed, testbed_admin: Connection, cloud_admin: Any, tmp_path: Path, monkeypatch
) -> None:
    project, domain = cloud_admin
    lines = config_check(
        testbed,
        tmp_path,
        f"admin_project_name = {project.name}\nadmin_project_domain_name = {domain.name}\n",
        monkeypatch,
    )
    own = testbed_admin.current_project_id
    assert any(
        f"only reaper's own project ({own}) and the admin project ({project.name!r} in domain "
        f"{domain.name!r}, {project.id}) are always protected" in line
        for line in lines
    ), lines


def test_config_check_finds_keystone_s_bootstrap_admin_project_by_default(
    testbed: Testbed, testbed_admin: Connection, tmp_path: Path, monkeypatch
) -> None:
    admin = testbed_admin.identity.find_project("admin", domain_id="default", ignore_missing=False)
    lines = config_check(testbed, tmp_path, "", monkeypatch)
    assert any(
        f"the admin project ('admin' in domain 'Default', {admin.id})" in line for line in lines
    ), lines


def test_a_misnamed_admin_project_is_an_error_and_plans_nothing(
    testbed: Testbed, testbed_admin: Connection, cloud_admin: Any, tmp_path: Path, monkeypatch
) -> None:
    project, domain = cloud_admin
    typo = project.name.replace("admin", "admn")
    lines = config_check(
        testbed,
        tmp_path,
        f"admin_project_name = {typo}\nadmin_project_domain_name = {domain.name}\n",
        monkeypatch,
    )
    assert f"[DEFAULT] admin_project_name: Keystone has no admin project {typo!r} in domain " in (
        "\n".join(lines)
    ), lines

    gone = testbed_admin.identity.create_project(name=f"gone-{secrets.token_hex(3)}")
    network = testbed_admin.network.create_network(name="gone", project_id=gone.id)
    try:
        testbed_admin.identity.delete_project(gone.id)
        settings = Settings(admin_project=AdminProject(typo, domain.name, required=True))
        with pytest.raises(VerificationError, match="admin_project_name"):
            make_plan(
                Cloud.of(testbed_admin),
                IdentityRef(IdentityKind.PROJECT, gone.id),
                load_policies([DEFAULT_POLICY]),
                settings,
            )
    finally:
        testbed_admin.network.delete_network(network.id, ignore_missing=True)


def test_the_controller_warns_with_the_always_protected_projects_ids(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess]
) -> None:
    """protected_project_ids is empty: the start-up warning names both projects and their ids."""
    admin = testbed_admin.identity.find_project("admin", domain_id="default", ignore_missing=False)
    own = testbed_admin.current_project_id
    reaper = controllers().start()
    expected = (
        f"only reaper's own project ({own}) and the admin project ('admin' in domain "
        f"'Default', {admin.id}) are always protected"
    )
    deadline = time.monotonic() + 60
    while expected not in reaper.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert expected in reaper.log(), reaper.log()[-3000:]
    warnings = [line for line in reaper.log().splitlines() if "protected_project_ids" in line]
    assert len(warnings) == 1, warnings  # said once, with the ids, not also before them
    assert re.search(r'"level": "warning"', warnings[0]), warnings[0]
    reaper.terminate()
