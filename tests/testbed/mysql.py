"""The run's MySQL databases, on the machine's MariaDB, for services that need MySQL.

Designate's storage works only on MySQL: its UUID column type hands PostgreSQL's UUID
values (SQLAlchemy 2 returns ``uuid.UUID`` objects) to ``uuid.UUID()`` again and fails on
every read, and its migrations fail on PostgreSQL. So services whose ``Extra`` lists
``mysql_databases`` get databases named ``<run id>_<name>`` on the machine's MariaDB
(``REAPER_TESTBED_MYSQL_URL``, default ``mysql://root@127.0.0.1:3306``, no password),
created when the service starts and dropped by ``down``, as on a shared PostgreSQL.

Driven through the ``mysql`` command, so that the orchestration needs only the standard
library.
"""

from __future__ import annotations

import os
import re
import subprocess
from urllib.parse import urlparse

URL_ENV = "REAPER_TESTBED_MYSQL_URL"
DEFAULT_URL = "mysql://root@127.0.0.1:3306"


def server_url() -> str:
    return (os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def names(run_id: str, databases: tuple[str, ...]) -> dict[str, str]:
    return {db: f"{run_id}_{db}" for db in databases}


def sqlalchemy_url(url: str, database: str) -> str:
    """How a service's oslo.db reaches one database (PyMySQL, which the services' venv has)."""
    base = url.split("://", 1)[1]
    return f"mysql+pymysql://{base}/{database}?charset=utf8mb4"


def _mysql(url: str, sql: str) -> str:
    parsed = urlparse(url)
    argv = ["mysql", "-h", parsed.hostname or "127.0.0.1", "-P", str(parsed.port or 3306),
            "-u", parsed.username or "root", "-N", "-B", "-e", sql]  # fmt: skip
    env = dict(os.environ)
    if parsed.password:
        env["MYSQL_PWD"] = parsed.password
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"mysql -e {sql!r} failed: {result.stderr.strip()}")
    return result.stdout


def _checked(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"unexpected database name {name!r}")
    return name


def create(url: str, databases: list[str]) -> None:
    if databases:
        sql = "; ".join(
            f"CREATE DATABASE `{_checked(db)}` CHARACTER SET utf8mb4" for db in databases
        )
        _mysql(url, sql)


def drop(url: str, databases: list[str]) -> None:
    if databases:
        _mysql(url, "; ".join(f"DROP DATABASE IF EXISTS `{_checked(db)}`" for db in databases))


def existing(url: str, prefix: str) -> list[str]:
    """Names of the databases that start with ``prefix`` (to prove ``down`` dropped them)."""
    pattern = _checked(prefix).replace("_", r"\\_") + "%"
    out = _mysql(url, f"SHOW DATABASES LIKE '{pattern}'")
    return [line for line in out.splitlines() if line]
