"""state.json: what a run owns, written from the first step on.

``down`` reads only this file to find what to stop and drop, so it is saved before each
thing is created (databases, vhost, processes). That is what makes ``down`` work on a run
that died half-way through ``up``, and from another process than the one that started it.
Tests and tools read it too: it is the machine-readable description of a running testbed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import mysql
from .layout import RunLayout
from .processes import Owner

ADMIN_CLOUD = "testbed-admin"
REGION = "RegionOne"


@dataclass
class RunState:
    """Everything a run owns and everything a client needs to reach it."""

    run_id: str
    run_dir: str
    venv: str = ""
    status: str = "creating"
    created_at: float = 0.0
    notification_format: str = "basic"
    postgres_url: str = ""
    #: True if the run started its own PostgreSQL server (see postgres.py).
    postgres_private: bool = False
    rabbit_url: str = ""
    vhost: str = ""
    transport_url: str = ""
    admin_password: str = ""
    service_password: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    #: Databases on the machine's MariaDB (``mysql.py``), for services that need MySQL.
    mysql_url: str = ""
    mysql_databases: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    clouds_yaml: str = ""
    cloud_name: str = ADMIN_CLOUD
    region: str = REGION
    keystone_url: str = ""
    resources: dict[str, Any] = field(default_factory=dict)
    #: Optional services started into the run (``extras``), in start order.
    services: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def layout(self) -> RunLayout:
        return RunLayout(Path(self.run_dir))

    @property
    def owner(self) -> Owner:
        """How ``down`` and the leftover check recognise the run's processes."""
        return Owner(self.run_id, (self.layout.pgdata,))

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of one of the run's databases, as the services use it."""
        if name in self.mysql_databases:
            return mysql.sqlalchemy_url(self.mysql_url, self.mysql_databases[name])
        base = self.postgres_url.split("://", 1)[1].rstrip("/")
        return f"postgresql+psycopg2://{base}/{self.databases[name]}"

    def save(self) -> None:
        """Write atomically, so a reader never sees half a file."""
        path = self.layout.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state.")
        with os.fdopen(fd, "w") as handle:
            json.dump(dataclasses.asdict(self), handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: Path) -> RunState:
        data = json.loads((Path(run_dir) / "state.json").read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
