"""Where a testbed run keeps its files, and how runs are named.

Every run owns one directory (configs, keys, data, pid files, logs, state.json,
clouds.yaml). Everything else a run owns (databases, a RabbitMQ vhost) is named after
its run id, so two runs on one machine never share anything.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

#: The repository root: the services' helper scripts are run from here.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: This package's directory.
PACKAGE_DIR = Path(__file__).resolve().parent

DEFAULT_ROOT = Path("/tmp/reaper-testbed")
_RUN_ID = re.compile(r"^[a-z][a-z0-9]{2,20}$")


def root() -> Path:
    """The directory holding every run's directory (``REAPER_TESTBED_ROOT`` overrides)."""
    return Path(os.environ.get("REAPER_TESTBED_ROOT") or DEFAULT_ROOT)


def new_run_id() -> str:
    """A short random id that is a valid PostgreSQL identifier and RabbitMQ vhost name."""
    return "tb" + secrets.token_hex(4)


def check_run_id(run_id: str) -> str:
    """Reject ids that would need quoting in SQL or could escape the root directory."""
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r} must match {_RUN_ID.pattern}")
    return run_id


@dataclass(frozen=True)
class RunLayout:
    """The paths inside one run directory."""

    run_dir: Path

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def clouds_yaml(self) -> Path:
        return self.run_dir / "clouds.yaml"

    @property
    def etc(self) -> Path:
        return self.run_dir / "etc"

    @property
    def data(self) -> Path:
        return self.run_dir / "data"

    @property
    def pgdata(self) -> Path:
        """The private PostgreSQL server's data directory (when the run has one)."""
        return self.run_dir / "pgdata"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def pids(self) -> Path:
        return self.run_dir / "pids"

    def etc_dir(self, service: str) -> Path:
        return self.etc / service

    def data_dir(self, service: str) -> Path:
        return self.data / service

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.pids / f"{name}.pid"

    def make_dirs(self) -> None:
        for path in (self.etc, self.data, self.logs, self.pids):
            path.mkdir(parents=True, exist_ok=True)
