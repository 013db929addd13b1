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

from tests import docsnippets

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


def _no_cloud_env() -> dict[str, str]:
    """No OS_* of the runner's: OSC's ``none`` auth needs no Keystone for these commands."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


def _openstack(
    conf: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``openstack ... reaper ARGS`` with stderr piped (not a terminal), as a script runs it."""
    return subprocess.run(
        [OPENSTACK, "--os-auth-type", "none", "--os-endpoint", "http://127.0.0.1:9",
         "--reaper-config-file", str(conf), "reaper", *args],
        env=_no_cloud_env() | (env or {}), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def _reaper(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("reaper")), "-q", "--config-file", str(conf), *args],
        env=_no_cloud_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_an_operator_error_is_one_readable_line_as_under_reaper(tmp_path: Path) -> None:
    """Not a JSON log line, not a traceback: the same ``error: ...`` line as ``reaper``'s."""
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    args = ("policy", "explain", "--resource-type", "compute.servr")

    osc, standalone = _openstack(conf, *args), _reaper(conf, *args)

    assert standalone.returncode == 1 and standalone.stderr.startswith("error: ")
    assert (osc.returncode, osc.stderr) == (1, standalone.stderr)
    assert "did you mean compute.server" in osc.stderr


def test_a_missing_store_is_one_line_naming_the_option_to_pass(tmp_path: Path) -> None:
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'nowhere'}\n")

    run = _openstack(conf, "tombstone", "list")

    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"error: no store at {tmp_path / 'nowhere' / 'reaper.sqlite'} ([DEFAULT] state_path = "
        f"{tmp_path / 'nowhere'}): the controller or `reaper apply` creates it; pass "
        "--reaper-config-file with the reaper.conf the controller uses"
    ]


def test_explain_s_sections_fit_the_display_and_sort_under_openstack(tmp_path: Path) -> None:
    """OSC's --fit-width and --sort-column act on the table of sections, as on any OSC list."""
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    policies = str(Path(__file__).parents[2] / "policies")
    wide = _openstack(conf, "policy", "explain", "--policy", policies, "--all", "--fit-width",
                      env={"COLUMNS": "150"})  # fmt: skip
    assert wide.returncode == 0, wide.stderr
    assert max(len(line) for line in wide.stdout.splitlines()) == 150
    down = _openstack(conf, "policy", "explain", "--policy", policies, "--sort-column",
                      "Resource Type", "--sort-descending")  # fmt: skip
    headings = [line for line in down.stdout.splitlines() if line and line[0] not in "+|"]
    assert headings[-1] == "every type"  # type '*' sorts before every name
    headings = headings[:-1]
    assert headings == sorted(headings, reverse=True) and len(headings) > 3


def test_the_documented_command_list_is_what_openstack_help_reaper_shows() -> None:
    """doc/operations.md lists them in a ``text`` block, which no documented command checks."""
    listings = [
        b
        for b in docsnippets.blocks()
        if b.path == "doc/operations.md" and b.lang == "text" and "reaper plan show" in b.text
    ]
    assert len(listings) == 1, "doc/operations.md lists reaper's openstack commands once"
    documented = [line.strip() for line in listings[0].text.splitlines() if line.strip()]

    run = subprocess.run([OPENSTACK, "help", "reaper"], env=_no_cloud_env(), capture_output=True,
                         text=True, timeout=120, check=False)  # fmt: skip

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == 'Command "reaper" matches:'
    assert [line.strip() for line in lines[1:] if line.strip()] == documented
