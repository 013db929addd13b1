"""Services a run starts only when asked: Swift, Octavia, Designate, Manila, Heat, Barbican.

The core services (keystone, nova, cinder, neutron, glance, placement) start with every
run; most tests need nothing else, so these start only for the tests, benchmarks and demo
modes that need them (``up --with swift,octavia``, ``Testbed.up(extra_services=...)`` or
``testbed.start_services(...)`` on a run that is already up), and the default start time
does not grow.

Each service is one module here that describes itself with an :class:`Extra`: the
databases it needs (created with the run's others, empty until used), the ports it
listens on, its keystone wiring (service user, catalog entries, roles), its configuration
files, its setup commands and its processes. Adding a service is one more module and one
line in :data:`MODULES`; ``starting.start_extras`` does the rest the same way for all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..configs import Files
from ..processes import Command
from ..services import Api, api_command
from ..state import RunState

#: Every optional service, by the name ``--with`` takes, in start order.
MODULES = ("swift", "octavia", "designate", "manila", "heat", "barbican")


@dataclass(frozen=True)
class CatalogEntry:
    """A keystone catalog entry: the service type, its name, and the API whose URL it is."""

    service_type: str
    name: str
    api: str


@dataclass(frozen=True)
class Extra:
    """What the orchestrator needs to know to start one optional service."""

    name: str
    #: Its HTTP services, keyed like the core ones (ports, logs, pids, health checks).
    apis: Callable[[RunState], dict[str, Api]]
    #: Its configuration files, relative to ``<run dir>/etc``.
    files: Callable[[RunState], Files]
    #: Schema and bootstrap commands, run in order before anything starts.
    setup: Callable[[RunState], list[Command]]
    #: Its other processes (RPC workers, storage servers), started before its APIs.
    daemons: Callable[[RunState], dict[str, Command]]
    #: How each API is started when it is not a WSGI application served by gunicorn
    #: (``services.api_command``): eventlet servers of their own, by API name.
    api_commands: Callable[[RunState], dict[str, Command]] | None = None
    #: Commands run once its daemons consume from the queues in ``rpc_consumers``
    #: (bootstrap steps that talk to a daemon over RPC), before its APIs start.
    post_start: Callable[[RunState], list[Command]] | None = None
    rpc_consumers: tuple[str, ...] = ()
    #: Commands run once its APIs answer: what an operator creates through them (types,
    #: pools). They may add ids to ``<run dir>/resources.json``, which becomes the
    #: state's ``resources``.
    ready: Callable[[RunState], list[Command]] | None = None
    #: Keystone wiring beyond the service user, catalog and roles (a domain of its own),
    #: called by ``keystone_setup`` with an admin openstacksdk connection.
    keystone: Callable[[Any, RunState], None] | None = None
    #: Paste pipelines to copy from ``<venv>/etc/<name>/`` into the run's ``etc/<name>/``.
    paste: tuple[str, ...] = ()
    #: Databases in the run's PostgreSQL (named ``<run id>_<name>``).
    databases: tuple[str, ...] = ()
    #: Databases on the machine's MariaDB instead (``mysql.py`` says why some need it).
    mysql_databases: tuple[str, ...] = ()
    #: The ports it listens on, by name: its APIs' names and any other listeners.
    ports: tuple[str, ...] = ()
    #: The keystone user it validates tokens and calls other services as (admin+service).
    service_user: str | None = None
    catalog: tuple[CatalogEntry, ...] = ()
    #: Roles it needs to exist, and those the testbed's admin gets on the admin project.
    roles: tuple[str, ...] = ()
    admin_roles: tuple[str, ...] = ()
    #: What it is, in a few words (``python -m tests.testbed up --help``).
    summary: str = ""

    def api_command(self, state: RunState, name: str) -> Command:
        own = self.api_commands(state) if self.api_commands else {}
        return own[name] if name in own else api_command(state, self.apis(state)[name])


def get(name: str) -> Extra:
    """The optional service called ``name``; ValueError naming the known ones otherwise."""
    if name not in MODULES:
        raise ValueError(f"unknown service {name!r}: choose from {', '.join(MODULES)}")
    module = importlib.import_module(f"{__name__}.{name}")
    extra: Extra = module.SERVICE
    return extra


def parse(names: str | Iterable[str]) -> list[str]:
    """``"swift,octavia"`` or a list, checked and put in start order, duplicates dropped."""
    if isinstance(names, str):
        names = [n for n in (part.strip() for part in names.split(",")) if n]
    wanted = set(names)
    for name in wanted:
        get(name)
    return [name for name in MODULES if name in wanted]


def all_databases() -> tuple[str, ...]:
    """Every optional service's databases: created with the run, dropped by ``down``."""
    return tuple(db for name in MODULES for db in get(name).databases)


def apis(state: RunState) -> dict[str, Api]:
    """The APIs of the optional services the run has ports for (started or starting)."""
    found: dict[str, Api] = {}
    for name in MODULES:
        extra = get(name)
        if all(port in state.ports for port in extra.ports):
            found.update(extra.apis(state))
    return found
