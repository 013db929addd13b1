"""The run's PostgreSQL: a private server per run by default, or a shared one.

Every service gets its own database named ``<run id>_<service>``. SQLite is not an
option: keystone and neutron answer "database is locked" under the concurrent requests
that a tenant build makes.

By default each run starts **its own PostgreSQL server** (the machine's binaries,
``initdb`` into ``<run dir>/pgdata``, a port of the run's, ``max_connections`` 300, no
fsync). The machine's server allows 100 connections; a testbed holds ~20 idle and more
under load, so two or three testbeds (several engineers, or the functional tests' second
run) plus other database tests exhausted it, and then every service answers 500. A
private server also cannot collide with anything else, and ``down`` simply stops it.
Setting ``REAPER_TESTBED_PG_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432``) uses
that shared server instead, creating and dropping the run's databases there.

``psql``, ``initdb`` and ``postgres`` are driven as commands, so that this module, like
the rest of the orchestration, needs nothing outside the standard library.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from .processes import Command

SHARED_URL_ENV = "REAPER_TESTBED_PG_URL"
PG_BIN_ENV = "REAPER_TESTBED_PG_BIN"
#: The OS user a private server runs as when the testbed runs as root (postgres refuses root).
SERVER_USER = "postgres"

#: One database per service; nova needs three (API, cell0, cell1).
DATABASES = (
    "keystone",
    "placement",
    "nova_api",
    "nova_cell0",
    "nova",
    "glance",
    "cinder",
    "neutron",
)


def shared_url() -> str | None:
    """The shared server to use, or None for a private server per run."""
    url = os.environ.get(SHARED_URL_ENV)
    return url.rstrip("/") if url else None


def private_url(port: int) -> str:
    return f"postgresql://{SERVER_USER}@127.0.0.1:{port}"


def names(run_id: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Database name by service database, for the core services and ``extra`` ones."""
    return {db: f"{run_id}_{db}" for db in (*DATABASES, *extra)}


def _bin_dir() -> Path:
    """Where initdb and postgres are: ``REAPER_TESTBED_PG_BIN``, PATH, or Debian's layout."""
    if os.environ.get(PG_BIN_ENV):
        return Path(os.environ[PG_BIN_ENV])
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise RuntimeError(f"no initdb found: install PostgreSQL's server or set {PG_BIN_ENV}")
    return candidates[-1].parent


def _as_server_user() -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []


def init_private(datadir: Path) -> None:
    """``initdb`` a new cluster in ``datadir`` (owned by the server's user when root)."""
    datadir.mkdir(mode=0o700, parents=True)
    if os.geteuid() == 0:
        shutil.chown(datadir, SERVER_USER, SERVER_USER)
    argv = [
        *_as_server_user(), str(_bin_dir() / "initdb"), "-D", str(datadir),
        "-U", SERVER_USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync",
    ]  # fmt: skip
    result = subprocess.run(argv, cwd=datadir.parent, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")


def private_command(datadir: Path, port: int) -> Command:
    """The private server: tuned for a disposable cloud, not for durability."""
    settings = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(datadir),
        "max_connections": "300",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    argv = [*_as_server_user(), str(_bin_dir() / "postgres"), "-D", str(datadir), "-p", str(port)]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    return Command("postgres", argv, cwd=datadir)


def _psql(url: str, *args: str) -> str:
    result = subprocess.run(
        ["psql", f"{url}/postgres", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def wait_ready(url: str, timeout: float = 60) -> None:
    """Wait until the server accepts queries (a fresh private one takes about a second)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _psql(url, "-c", "SELECT 1")
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def create(url: str, databases: list[str]) -> None:
    """Create the databases (each ``-c`` runs outside a transaction, as CREATE DATABASE needs)."""
    args: list[str] = []
    for name in databases:
        args += ["-c", f'CREATE DATABASE "{name}"']
    _psql(url, *args)


def drop(url: str, databases: list[str]) -> None:
    """Drop the databases, closing whatever connections the services left open."""
    args: list[str] = []
    for name in databases:
        args += ["-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']
    if args:
        _psql(url, *args)


def existing(url: str, prefix: str) -> list[str]:
    """Names of the databases that start with ``prefix`` (to prove ``down`` dropped them)."""
    if not re.fullmatch(r"[a-z0-9_]+", prefix):
        raise ValueError(f"unexpected database prefix {prefix!r}")
    pattern = prefix.replace("_", r"\_") + "%"
    query = f"SELECT datname FROM pg_database WHERE datname LIKE '{pattern}'"  # noqa: S608
    out = _psql(url, "-c", query)
    return [line for line in out.splitlines() if line]


def free_connections(url: str) -> int:
    """How many more connections the server accepts (``max_connections`` minus those in use)."""
    query = "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity"
    return int(_psql(url, "-c", query).strip())
