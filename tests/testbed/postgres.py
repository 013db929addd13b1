"""The run's PostgreSQL databases, created and dropped with ``psql``.

Every service gets its own database named ``<run id>_<service>``, on the machine's
PostgreSQL (``REAPER_TESTBED_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432``).
SQLite is not an option: keystone and neutron answer "database is locked" under the
concurrent requests that a tenant build makes. ``psql`` is used instead of a driver so that
this module, like the rest of the orchestration, needs nothing outside the standard library.
"""

from __future__ import annotations

import os
import re
import subprocess

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432"

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


def server_url() -> str:
    return (os.environ.get("REAPER_TESTBED_PG_URL") or DEFAULT_URL).rstrip("/")


def names(run_id: str) -> dict[str, str]:
    return {db: f"{run_id}_{db}" for db in DATABASES}


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
