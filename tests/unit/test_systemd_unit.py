"""The shipped systemd unit: the install docs' path, Type=notify, and systemd-analyze verify."""

from __future__ import annotations

import shutil
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
