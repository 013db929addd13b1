"""Every credential form doc/install.md shows works, against the testbed's real Keystone.

For each form of ``[service_credentials]``, one test starts the real
``reaper-controller`` with it, deletes a real project in Keystone and sees
the project's network gone; ``reaper plan`` runs with every form, the
command-line and environment ones included, for a deleted project whose
network carries ``reaper:keep`` (so no controller on the shared testbed
removes it first) and must find that network. The forms are the documented
snippets, filled in for a service user made as install.md says
(``credential_forms.py``).

Precedence is tested by the same runs: the command line and the
environment forms run beside a reaper.conf whose own credentials point at
a Keystone nothing answers on, and ``--os-cloud`` beside an ``OS_CLOUD`` that
names no cloud, so they pass only if the winner is the one the docs say.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.functional.controller_fixtures import ControllerProcess
from tests.functional.credential_fixtures import ServiceUser
from tests.functional.credential_forms import (
    APPLICATION_CREDENTIAL,
    CLOUD,
    CLOUD_IN_CONF,
    PASSWORD_IDS,
    PASSWORD_NAMES,
    deleted_project,
    documented_forms,
    fill,
    openrc,
    reaper,
    write_clouds_yaml,
    write_conf,
)

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

SETTLED = {TombstoneState.COMPLETE, TombstoneState.PARTIAL, TombstoneState.REFUSED}
CONF_FORMS = [PASSWORD_NAMES, PASSWORD_IDS, APPLICATION_CREDENTIAL, CLOUD_IN_CONF]
#: A reaper.conf whose own credentials cannot work: what the winning form must beat.
UNREACHABLE = (
    "[service_credentials]\nauth_type = password\nauth_url = http://127.0.0.1:9/v3\n"
    "username = nobody\npassword = nothing\nproject_name = none\n"
    "user_domain_id = default\nproject_domain_id = default\n"
)


@dataclasses.dataclass(frozen=True)
class Kept:
    """A deleted project whose network is kept, for the plans to find."""

    project_id: str
    network_id: str


@pytest.fixture(scope="module")
def kept(testbed_admin: Connection) -> Iterator[Kept]:
    project_id, network_id = deleted_project(testbed_admin, kept=True)
    yield Kept(project_id, network_id)
    testbed_admin.network.delete_network(network_id, ignore_missing=True)


def test_install_md_shows_each_form_of_service_credentials() -> None:
    assert sorted(documented_forms()) == sorted(CONF_FORMS)


@dataclasses.dataclass(frozen=True)
class Way:
    """How ``reaper plan`` is given its credentials in one test case."""

    args: tuple[str, ...]
    env: Mapping[str, str]
    #: What the first stderr line says the credentials are.
    said: str


def ways(home: Path, user: ServiceUser, form: str, kept: Kept) -> Way:
    clouds = {"OS_CLIENT_CONFIG_FILE": str(write_clouds_yaml(home / "clouds.yaml", user))}
    plan = ("plan", "--project", kept.project_id)
    if form in CONF_FORMS:
        conf = write_conf(home, fill(documented_forms()[form], user))
        said = {
            CLOUD_IN_CONF: f"cloud {CLOUD} ([service_credentials] cloud)",
            APPLICATION_CREDENTIAL: "[service_credentials] auth_type = v3applicationcredential",
        }.get(form, "[service_credentials] auth_type = password")
        return Way(("--config-file", str(conf), *plan), clouds, said)
    # The command line and the environment beat a reaper.conf that would fail.
    (home / ".reaper").mkdir()
    write_conf(home / ".reaper", UNREACHABLE)
    if form == "--os-cloud":
        env = {**clouds, "OS_CLOUD": "no-such-cloud"}
        return Way(("--os-cloud", CLOUD, *plan), env, f"cloud {CLOUD} (--os-cloud)")
    if form == "OS_CLOUD":
        return Way(plan, {**clouds, "OS_CLOUD": CLOUD}, f"cloud {CLOUD} (OS_CLOUD)")
    env, command = openrc(user, kept.project_id)
    return Way(tuple(command), env, "OS_* environment (auth_type password)")


@pytest.mark.parametrize("form", [*CONF_FORMS, "--os-cloud", "OS_CLOUD", "openrc"])
def test_reaper_plan_reads_the_cloud_with(
    form: str, tmp_path: Path, service_user: ServiceUser, kept: Kept
) -> None:
    way = ways(tmp_path, service_user, form, kept)

    run = reaper(*way.args, env=way.env, home=tmp_path)

    assert run.returncode == 0, run.stderr
    said = run.stderr.splitlines()[0]
    assert re.fullmatch(r"reaper: config .*; credentials .*; store sqlite:///.*", said), said
    assert f"; credentials {way.said}; " in said
    (row,) = [line for line in run.stdout.splitlines() if kept.network_id in line]
    assert "| protect " in row, run.stdout


@pytest.mark.parametrize("form", CONF_FORMS)
def test_the_controller_cleans_up_with(
    form: str,
    tmp_path: Path,
    testbed_admin: Connection,
    service_user: ServiceUser,
    controllers: Callable[..., ControllerProcess],
) -> None:
    clouds = write_clouds_yaml(tmp_path / "clouds.yaml", service_user)
    section = fill(documented_forms()[form], service_user)
    controller = controllers(
        credentials=section.removeprefix("[service_credentials]\n"),
        env={"OS_CLIENT_CONFIG_FILE": str(clouds)},
    ).start()
    project_id, network_id = deleted_project(testbed_admin, kept=False)

    done = controller.wait_for(IdentityRef(IdentityKind.PROJECT, project_id), SETTLED)

    assert done.state is TombstoneState.COMPLETE, done.reason
    assert testbed_admin.network.find_network(network_id) is None
    plan = controller.store.plans.load(done.plan_hash)  # type: ignore[arg-type]
    assert network_id in {s.resource.id for s in plan.steps}
