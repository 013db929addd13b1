"""A DevStack of reaper's plugin only, on this machine, with DevStack's own library.

:class:`Sandbox` lays out a folder that DevStack takes for its world: a copy
of DevStack (``TOP_DIR``, with the test's ``local.conf``), ``DEST`` (where
reaper's checkout is linked in as the plugin ``enable_plugin`` names),
``DATA_DIR`` (with DevStack's global venv), ``/etc`` for Keystone and reaper,
and ``HOME`` (for the systemd user units DevStack writes with
``USER_UNITS=True``: its system units would go to ``/etc/systemd/system``).
:meth:`Sandbox.run` runs ``tests/devstack/devstack.sh`` in it, which sources
DevStack as ``stack.sh``, ``unstack.sh`` and ``clean.sh`` do.

Fakes, each because what it stands for needs root, the network or a running
systemd: ``sudo``, ``systemctl``, the global venv's ``pip`` and the
requirements repository's ``edit-constraints`` (tests/devstack/fakes). They
record their calls in :attr:`Sandbox.calls`. The global venv's ``reaper``
records its call too, then runs the real ``reaper``; ``reaper-controller``,
``python`` and ``openstack`` are the real ones of the venv running the tests.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "devstack" / "devstack.sh"
FAKES = ROOT / "tests" / "devstack" / "fakes"


def devstack_source() -> Path | None:
    """DevStack's tree: ``REAPER_DEVSTACK_DIR``, else the nearest ``shared/devstack`` above."""
    configured = os.environ.get("REAPER_DEVSTACK_DIR")
    if configured:
        return Path(configured)
    for folder in ROOT.parents:
        if (folder / "shared" / "devstack" / "stack.sh").is_file():
            return folder / "shared" / "devstack"
    return None


class PhaseFailed(AssertionError):
    pass


class Sandbox:
    def __init__(self, root: Path, devstack: Path) -> None:
        self.root = root
        self.top_dir = root / "devstack"
        shutil.copytree(devstack, self.top_dir, symlinks=True)
        self.dest = root / "opt" / "stack"
        self.data_dir = self.dest / "data"
        self.home = root / "home"
        self.etc = root / "etc"
        self.calls_log = root / "calls.log"
        self.calls_log.touch()
        self.fake_path = root / "fakes"
        for path in (self.dest, self.home, self.etc, self.fake_path):
            path.mkdir(parents=True, exist_ok=True)
        (self.dest / "reaper").symlink_to(ROOT)
        for tool in ("sudo", "systemctl"):
            (self.fake_path / tool).symlink_to(FAKES / tool)
        requirements = self.dest / "requirements"
        (requirements / ".venv" / "bin").mkdir(parents=True)
        (requirements / "upper-constraints.txt").touch()
        (requirements / ".venv" / "bin" / "edit-constraints").symlink_to(FAKES / "edit-constraints")
        self.venv_bin = self.data_dir / "venv" / "bin"
        self.venv_bin.mkdir(parents=True)
        self._fill_venv()

    def _fill_venv(self) -> None:
        real = Path(sys.executable).parent
        (self.venv_bin / "pip").symlink_to(FAKES / "pip")
        for tool in ("python", "python3", "reaper-controller", "openstack"):
            (self.venv_bin / tool).symlink_to(real / tool)
        wrapper = self.venv_bin / "reaper"
        wrapper.write_text(
            "#!/bin/bash\n"
            "# The real reaper, its call recorded beside the fakes' calls.\n"
            f'echo "reaper $*" >> "{self.calls_log}"\n'
            f'exec "{real / "reaper"}" "$@"\n'
        )
        wrapper.chmod(0o755)

    @property
    def systemd_dir(self) -> Path:
        """Where DevStack writes its unit files with ``USER_UNITS=True``."""
        return self.home / ".local" / "share" / "systemd" / "user"

    @property
    def keystone_conf(self) -> Path:
        return self.etc / "keystone" / "keystone.conf"

    @property
    def reaper_conf(self) -> Path:
        return self.etc / "reaper" / "reaper.conf"

    def calls(self) -> list[str]:
        return self.calls_log.read_text().splitlines()

    def write_local_conf(self, localrc: Mapping[str, str], extra: Sequence[str] = ()) -> None:
        """local.conf: the sandbox's paths, ``localrc``, ``enable_plugin reaper``, ``extra``."""
        settings = {
            "DEST": str(self.dest),
            "DATA_DIR": str(self.data_dir),
            # reaper's checkout is linked in: DevStack must not clone anything.
            "ERROR_ON_CLONE": "True",
            "USER_UNITS": "True",
            "KEYSTONE_CONF_DIR": str(self.etc / "keystone"),
            "REAPER_CONF_DIR": str(self.etc / "reaper"),
            **localrc,
        }
        lines = ["[[local|localrc]]"]
        lines += [f"{name}={value}" for name, value in settings.items()]
        # After DEST: enable_plugin places the plugin at $DEST/reaper.
        lines += [f"enable_plugin reaper {ROOT}", *extra]
        (self.top_dir / "local.conf").write_text("\n".join(lines) + "\n")

    def run(self, mode: str, env: Mapping[str, str]) -> list[str]:
        """Run ``stack``, ``unstack`` or ``clean``; returns the calls the fakes recorded."""
        before = len(self.calls())
        environ = {
            "PATH": f"{self.fake_path}:{self.venv_bin}:{os.environ['PATH']}",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "DEVSTACK_SANDBOX": str(self.root),
            "DEVSTACK_CALLS": str(self.calls_log),
            **env,
        }
        result = subprocess.run(
            ["bash", str(HARNESS), str(self.top_dir), mode],
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        (self.root / f"{mode}.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise PhaseFailed(
                f"devstack.sh {mode} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
            )
        return self.calls()[before:]

    def stackenv(self) -> dict[str, str]:
        """What stack.sh saved for unstack.sh and clean.sh (``.stackenv``)."""
        pairs = (
            line.split("=", 1)
            for line in (self.top_dir / ".stackenv").read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        return dict(pairs)


def read_ini(path: Path) -> configparser.RawConfigParser:
    """An ini file as written: [DEFAULT] is a section like the others, not merged into them."""
    parser = configparser.RawConfigParser(
        strict=False, interpolation=None, default_section="\0no default section"
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser
