"""The DevStack plugin, phase by phase, with DevStack's functions stubbed.

Each phase runs the real ``devstack/plugin.sh`` in bash, the way stack.sh
sources it; the stand-ins in ``tests/devstack/stubs.sh`` record every call
and write real ini files, so these tests read what an operator's DevStack
would end up with.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_CALLS = frozenset({"define_plugin", "plugin_requires", "enable_service"})


class DevStack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.calls = tmp / "calls.log"
        self.fake_bin = tmp / "bin"
        self.fake_bin.mkdir()
        for tool in ("reaper", "reaper-controller"):
            script = self.fake_bin / tool
            script.write_text(f'#!/bin/bash\necho "{tool} $*" >> "{self.calls}"\n')
            script.chmod(0o755)
        (tmp / "etc" / "keystone").mkdir(parents=True)
        self.keystone_conf = tmp / "etc" / "keystone" / "keystone.conf"
        self.keystone_conf.write_text("[DEFAULT]\n[oslo_messaging_notifications]\n")
        self.env = {
            "PATH": os.environ["PATH"],
            "CALLS": str(self.calls),
            "FAKE_BIN": str(self.fake_bin),
            "DEST": str(tmp / "opt"),
            "DATA_DIR": str(tmp / "data"),
            "REAPER_CONF_DIR": str(tmp / "etc" / "reaper"),
            "KEYSTONE_CONF": str(self.keystone_conf),
            "STACK_USER": os.environ.get("USER", "root"),
            "SERVICE_PASSWORD": "service-secret",
            "SERVICE_PROJECT_NAME": "service",
            "KEYSTONE_SERVICE_URI": "http://10.0.0.1/identity",
            "REGION_NAME": "RegionOne",
            "SERVICE_LISTEN_ADDRESS": "127.0.0.1",
            "ENABLE_DEBUG_LOG_LEVEL": "True",
        }

    def phase(self, *args: str) -> list[str]:
        """Run one phase; returns the calls it made."""
        before = self.calls.read_text().splitlines() if self.calls.exists() else []
        script = (
            f"source {ROOT}/tests/devstack/stubs.sh && "
            f"source {ROOT}/devstack/settings && "
            f"source {ROOT}/devstack/plugin.sh {' '.join(args)}"
        )
        subprocess.run(["bash", "-e", "-c", script], env=self.env, check=True, capture_output=True)
        made = self.calls.read_text().splitlines()[len(before) :]
        # settings declares the plugin on every source; the phase is what follows.
        return [c for c in made if c.split()[0] not in SETTINGS_CALLS]

    @property
    def reaper_conf(self) -> configparser.RawConfigParser:
        return self._read(Path(self.env["REAPER_CONF_DIR"]) / "reaper.conf")

    @property
    def keystone(self) -> configparser.RawConfigParser:
        return self._read(self.keystone_conf)

    @staticmethod
    def _read(path: Path) -> configparser.RawConfigParser:
        parser = configparser.RawConfigParser(strict=False)
        parser.read(path)
        return parser


@pytest.fixture
def devstack(tmp_path: Path) -> DevStack:
    return DevStack(tmp_path)


def test_install_sets_up_reaper_from_its_checkout(devstack: DevStack) -> None:
    calls = devstack.phase("stack", "install")
    assert f"setup_develop {devstack.env['DEST']}/reaper" in calls


def test_post_config_writes_reaper_conf_for_the_cloud(devstack: DevStack) -> None:
    calls = devstack.phase("stack", "post-config")
    conf = devstack.reaper_conf
    assert "create_service_user reaper admin" in calls
    assert conf.get("DEFAULT", "transport_url") == "rabbit://stackrabbit:secret@10.0.0.1:5672/"
    assert conf.get("DEFAULT", "dry_run") == "False"
    assert conf.get("DEFAULT", "protected_project_ids") == "id-of-admin,id-of-service"
    assert conf.get("listener", "pool") == "reaper"
    assert conf.get("listener", "exchange") == "keystone"
    assert conf.get("store", "connection").startswith("postgresql://")
    assert "recreate_database reaper" in calls
    creds = dict(conf.items("service_credentials"))
    assert creds["auth_type"] == "password"
    assert creds["username"] == "reaper"
    assert creds["password"] == "service-secret"
    assert creds["project_name"] == "service"
    assert creds["auth_url"] == "http://10.0.0.1/identity"


def test_post_config_turns_keystone_notifications_on_and_restarts_keystone(
    devstack: DevStack,
) -> None:
    calls = devstack.phase("stack", "post-config")
    keystone = devstack.keystone
    assert keystone.get("oslo_messaging_notifications", "driver") == "messagingv2"
    assert keystone.get("oslo_messaging_notifications", "topics") == "notifications"
    assert keystone.get("DEFAULT", "notification_format") == "cadf"
    assert "restart_service devstack@keystone" in calls


def test_reapers_queue_exists_before_keystone_can_emit(devstack: DevStack) -> None:
    calls = devstack.phase("stack", "post-config")
    declare = next(i for i, c in enumerate(calls) if c.endswith("queue declare"))
    enable = next(
        i
        for i, c in enumerate(calls)
        if c.startswith(f"iniset {devstack.keystone_conf} oslo_messaging_notifications driver")
    )
    restart = calls.index("restart_service devstack@keystone")
    assert declare < enable < restart
    assert (
        f"--config-file {devstack.env['REAPER_CONF_DIR']}/reaper.conf queue declare"
        in (calls[declare])
    )


def test_rerunning_post_config_does_not_duplicate_keystone_topics(devstack: DevStack) -> None:
    devstack.phase("stack", "post-config")
    devstack.phase("stack", "post-config")
    text = devstack.keystone_conf.read_text()
    assert text.count("topics") == 1
    assert text.count("driver") == 1


def test_extra_starts_the_controller_and_unstack_stops_it(devstack: DevStack) -> None:
    started = devstack.phase("stack", "extra")
    conf = f"{devstack.env['REAPER_CONF_DIR']}/reaper.conf"
    assert (
        f"run_process reaper-controller {devstack.fake_bin}/reaper-controller --config-file {conf}"
        in (started)
    )
    assert devstack.phase("unstack") == ["stop_process reaper-controller"]


def test_clean_removes_reapers_state_and_configuration(devstack: DevStack) -> None:
    devstack.phase("stack", "post-config")
    state = Path(devstack.env["DATA_DIR"]) / "reaper"
    assert state.is_dir()
    devstack.phase("clean")
    assert not state.exists()
    assert not Path(devstack.env["REAPER_CONF_DIR"]).exists()


def test_settings_declare_the_plugin_and_its_service(devstack: DevStack) -> None:
    devstack.phase("stack", "pre-install")
    calls = devstack.calls.read_text().splitlines()
    assert "define_plugin reaper" in calls
    assert "plugin_requires reaper keystone" in calls
    assert "enable_service reaper" in calls


def test_other_phases_do_nothing(devstack: DevStack) -> None:
    assert devstack.phase("stack", "pre-install") == []
    assert devstack.phase("stack", "test-config") == []


@pytest.mark.skipif(shutil.which("bashate") is None, reason="bashate not installed")
def test_the_plugin_is_bashate_clean() -> None:
    result = subprocess.run(
        [
            "bashate",
            "-i",
            "E006",
            str(ROOT / "devstack" / "plugin.sh"),
            str(ROOT / "devstack" / "settings"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
