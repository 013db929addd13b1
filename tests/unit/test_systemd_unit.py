"""The shipped systemd unit: the install docs' path, Type=notify, and systemd-analyze verify."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
UNIT = ROOT / "etc" / "reaper" / "reaper-controller.service"
INSTALLED = "/opt/reaper/bin/reaper-controller"


def test_the_unit_starts_what_the_install_docs_install_and_waits_for_ready() -> None:
    unit = UNIT.read_text()
    assert "python3 -m venv /opt/reaper" in (ROOT / "doc" / "install.md").read_text()
    assert f"ExecStart={INSTALLED} --config-file /etc/reaper/reaper.conf" in unit
    assert "Type=notify" in unit and "NotifyAccess=main" in unit


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    # The binary must exist for verify; this venv's stands in for /opt/reaper's.
    here = str(Path(sys.executable).with_name("reaper-controller"))
    unit = tmp_path / "reaper-controller.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED, here))
    run = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "reaper-controller.service" not in run.stderr, run.stderr


SYSUSERS = ROOT / "etc" / "reaper" / "reaper.sysusers"
TMPFILES = ROOT / "etc" / "reaper" / "reaper.tmpfiles"


@pytest.mark.skipif(
    not (shutil.which("systemd-sysusers") and shutil.which("systemd-tmpfiles")),
    reason="no systemd-sysusers/systemd-tmpfiles here",
)
@pytest.mark.skipif(os.geteuid() != 0, reason="systemd-tmpfiles --root sets owners: root only")
def test_the_sysusers_and_tmpfiles_snippets_make_the_user_and_its_directories(
    tmp_path: Path,
) -> None:
    """Run for real, on an empty root: the user, then the directories the unit needs."""
    root = tmp_path / "root"
    (root / "etc" / "reaper").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        (root / "etc" / name).touch()
    key = root / "etc" / "reaper" / "audit-signing.pem"
    key.write_text("made by reaper audit keygen as root\n")
    key.chmod(0o600)  # as keygen writes it

    subprocess.run(
        ["systemd-sysusers", f"--root={root}", str(SYSUSERS)], check=True, capture_output=True
    )
    subprocess.run(
        ["systemd-tmpfiles", "--create", f"--root={root}", str(TMPFILES)],
        check=True, capture_output=True,
    )  # fmt: skip

    (user,) = [
        x for x in (root / "etc" / "passwd").read_text().splitlines() if x.startswith("reaper:")
    ]
    _, _, uid, gid, _, home, shell = user.split(":")
    assert (home, shell) == ("/var/lib/reaper", "/usr/sbin/nologin")
    state, etc = os.stat(root / "var" / "lib" / "reaper"), os.stat(root / "etc" / "reaper")
    assert (stat.S_IMODE(state.st_mode), state.st_uid, state.st_gid) == (0o700, int(uid), int(gid))
    assert (stat.S_IMODE(etc.st_mode), etc.st_uid, etc.st_gid) == (0o750, 0, int(gid))
    signing = os.stat(key)  # the controller, as reaper, can read the key root made
    assert (stat.S_IMODE(signing.st_mode), signing.st_uid, signing.st_gid) == (0o640, 0, int(gid))


def test_the_unit_runs_as_the_user_the_sysusers_snippet_makes() -> None:
    (user,) = [x.split()[1] for x in SYSUSERS.read_text().splitlines() if x.startswith("u ")]
    assert f"User={user}" in UNIT.read_text() and f"Group={user}" in UNIT.read_text()
    assert "ReadWritePaths=/var/lib/reaper" in UNIT.read_text()
    assert "d /var/lib/reaper 0700 reaper reaper" in TMPFILES.read_text()
