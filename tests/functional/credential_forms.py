"""The credential forms doc/install.md shows, filled in for the testbed, and ``reaper`` to run them.

The tests use the snippets of install.md's "Credentials and roles" section
and ``etc/reaper/clouds.yaml.sample`` exactly, option for option: only each
option's value is replaced by the testbed's (:meth:`ServiceUser.options`),
and a snippet with an option the tests cannot fill fails them. So a form the
documentation shows is a form that works, and one it stops showing is one
the tests stop running.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml  # type: ignore[import-untyped]

from tests.functional.credential_fixtures import ServiceUser

if TYPE_CHECKING:
    from openstack.connection import Connection

ROOT = Path(__file__).resolve().parents[2]
INSTALL_MD = ROOT / "doc" / "install.md"
CLOUDS_SAMPLE = ROOT / "etc" / "reaper" / "clouds.yaml.sample"
#: The cloud the sample defines and the docs name.
CLOUD = "reaper-admin"
#: What a documented ``[service_credentials]`` snippet is, by the options it sets.
PASSWORD_NAMES = "password with names"
PASSWORD_IDS = "password with ids"
APPLICATION_CREDENTIAL = "application credential"
CLOUD_IN_CONF = "clouds.yaml cloud in reaper.conf"
#: Options kept as the snippet has them: they say what the snippet is, not whose it is.
KEPT = {"auth_type", "cloud"}


def _section() -> str:
    text = INSTALL_MD.read_text(encoding="utf-8")
    start = text.index("## 2. Credentials and roles")
    return text[start : text.index("\n## 3.", start)]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", _section(), flags=re.S | re.M)


def _options(snippet: str) -> dict[str, str]:
    found = dict(re.findall(r"^(\w+) = (.*)$", snippet, flags=re.M))
    assert snippet.startswith("[service_credentials]\n"), snippet
    return found


def _kind(options: Mapping[str, str]) -> str:
    if "cloud" in options:
        return CLOUD_IN_CONF
    if options.get("auth_type") == "v3applicationcredential":
        return APPLICATION_CREDENTIAL
    return PASSWORD_IDS if "user_id" in options else PASSWORD_NAMES


def documented_forms() -> dict[str, str]:
    """install.md's ``[service_credentials]`` snippets, by what each one is."""
    forms: dict[str, str] = {}
    for snippet in _blocks("ini"):
        if snippet.startswith("[service_credentials]"):
            kind = _kind(_options(snippet))
            assert kind not in forms, f"install.md shows {kind} twice"
            forms[kind] = snippet
    return forms


def fill(snippet: str, user: ServiceUser) -> str:
    """The snippet with each option's value the testbed's; an option it cannot fill fails."""
    values = user.options()

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in KEPT:
            return match.group(0)
        assert values.get(key), f"install.md's snippet sets {key}, which the tests cannot fill"
        return f"{key} = {values[key]}"

    return re.sub(r"^(\w+) = (.*)$", value, snippet, flags=re.M)


def write_clouds_yaml(path: Path, user: ServiceUser) -> Path:
    """etc/reaper/clouds.yaml.sample with its ``auth`` filled in for ``user``."""
    clouds = yaml.safe_load(CLOUDS_SAMPLE.read_text())
    auth = clouds["clouds"][CLOUD]["auth"]
    values = user.options()
    for key in auth:
        assert values.get(key), f"clouds.yaml.sample sets {key}, which the tests cannot fill"
        auth[key] = values[key]
    clouds["clouds"][CLOUD]["region_name"] = user.region
    path.write_text(yaml.safe_dump(clouds))
    return path


def openrc(user: ServiceUser, project_id: str) -> tuple[dict[str, str], list[str]]:
    """install.md's openrc block: its variables filled in, and its ``reaper`` command."""
    (block,) = [b for b in _blocks("sh") if "export OS_AUTH_URL=" in b]
    values = user.options()
    env: dict[str, str] = {}
    command: list[str] = []
    for line in block.splitlines():
        if line.startswith("export "):
            name = line.split()[1].split("=", 1)[0]
            key = name.removeprefix("OS_").lower()
            assert values.get(key), f"install.md's openrc sets {name}, which the tests cannot fill"
            env[name] = values[key]
        elif line.startswith("reaper "):
            command = [project_id if w == "0c5d..." else w for w in shlex.split(line)][1:]
    assert command, "install.md's openrc block runs no reaper command"
    return env, command


def reaper(
    *args: str, env: Mapping[str, str] | None = None, home: Path
) -> subprocess.CompletedProcess[str]:
    """``reaper ARGS`` as an operator runs it: HOME is ``home``, no OS_* variable but ``env``'s."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("reaper")), *args],
        env={**environ, "HOME": str(home), **(env or {})},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_conf(directory: Path, credentials: str, *, signing_key: Path | None = None) -> Path:
    """A reaper.conf with a store of its own and ``credentials`` as [service_credentials]."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "reaper.conf"
    audit = f"[audit]\nsigning_key_file = {signing_key}\n" if signing_key else ""
    path.write_text(f"[DEFAULT]\nstate_path = {directory / 'state'}\n{audit}{credentials}")
    return path


def deleted_project(admin: Connection, *, kept: bool) -> tuple[str, str]:
    """A project with one network, deleted in Keystone: (project id, network id).

    A ``kept`` network carries ``reaper:keep``: no controller on the shared
    testbed deletes it, so a plan finds it whenever it runs.
    """
    project = admin.identity.create_project(name=f"creds-{secrets.token_hex(3)}")
    network = admin.network.create_network(name=f"{project.name}-net", project_id=project.id)
    if kept:
        admin.network.set_tags(network, ["reaper:keep"])
    admin.identity.delete_project(project)
    return project.id, network.id
