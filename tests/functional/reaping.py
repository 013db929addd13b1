"""Driving reaper against the testbed the way an operator does, and reading what happened.

The functional tests of ``reaper plan`` and ``reaper apply`` share this:

* :class:`Operator`: the ``reaper`` command, run in-process (importing reaper
  once per session instead of once per command), with a reaper.conf and
  SQLite store of its own, talking to the testbed through a
  :class:`~tests.faultproxy.FaultProxy`, so every request can be counted
  and faulted from the services' side;
* :class:`TenantFarm`: builds tenants in parallel (a tenant build is mostly
  waiting for the services) and, on a testbed the session only attached
  to, reaps what the tests left behind, so a shared development testbed
  does not fill up with servers;
* what the cloud holds for a project (:func:`holdings`), read as admin.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reaper import budget, config
from reaper.audit.repository import AuditRepository
from reaper.cli.main import main
from reaper.model import Plan
from reaper.store import Store
from tests.faultproxy import FaultProxy, Seen
from tests.testbed.tenant import Tenant, TenantSpec, build_tenant, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

#: The clouds.yaml cloud that goes through the proxy.
PROXIED_CLOUD = "reaper-behind-proxy"
#: Seconds a tenant build may take; a small one takes well under a minute.
BUILD_TIMEOUT = 300.0
#: Requests in flight per tenant build. Builds run side by side, and the services'
#: database pools (so PostgreSQL's connection limit) pay for every request at once;
#: a small tenant is mostly waiting for servers and volumes anyway.
BUILD_WORKERS = 4
#: The live tenant: a server with a volume, a floating IP, a port, a security group.
LIVE_SPEC = TenantSpec(volumes=1, snapshots=0, images=0)
#: Only one command at a time may swap the process environment and streams.
_RUN_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Run:
    """One ``reaper`` command: its exit status and what it wrote."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"reaper {' '.join(self.args)} -> {self.code}\n{self.out}\n{self.err}"


class Operator:
    """The ``reaper`` CLI with its own state directory, behind the fault proxy."""

    def __init__(
        self,
        home: Path,
        proxy: FaultProxy,
        testbed: Testbed,
        *,
        executor: Mapping[str, Any] | None = None,
    ) -> None:
        self.home = home
        self.proxy = proxy
        home.mkdir(parents=True, exist_ok=True)
        self.clouds_yaml = proxy.write_clouds_yaml(
            home / "clouds.yaml",
            PROXIED_CLOUD,
            admin_auth(testbed),
            region_name=testbed.region,
        )
        options = {"confirm_interval": 0.5, **(executor or {})}
        self.conf_file = home / "reaper.conf"
        self.conf_file.write_text(
            "[DEFAULT]\n"
            f"state_path = {home / 'state'}\n"
            "host = reaper-functional\n"
            "[store]\n"
            f"connection = sqlite:///{home / 'state' / 'reaper.sqlite'}\n"
            "[audit]\n"
            f"signing_key_file = {home / 'keys' / 'audit.pem'}\n"
            "[executor]\n" + "".join(f"{k} = {v}\n" for k, v in options.items())
        )
        keygen = self("audit", "keygen")
        assert keygen.code == 0, keygen

    def __call__(self, *args: str) -> Run:
        """Run ``reaper --config-file ... --os-cloud <proxied> ARGS``; never asks a terminal."""
        argv = ["--config-file", str(self.conf_file), "--os-cloud", PROXIED_CLOUD, *args]
        out, err = io.StringIO(), io.StringIO()
        with (
            _RUN_LOCK,
            _environ(OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml)),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            # Each command is a process of its own: no slowdown left by the last one.
            budget.forget_process_budgets()
            code = main(argv)
        return Run(tuple(args), code, out.getvalue(), err.getvalue())

    def plan(
        self, kind: str, identity: str, *, policy: Path | None = None, name: str = "plan"
    ) -> tuple[Run, Path]:
        """``reaper plan --<kind> ID -o <name>.json -f json``: the run, and the saved plan."""
        path = self.home / f"{name}.json"
        args = ["plan", f"--{kind}", identity, "-o", str(path), "-f", "json"]
        if policy is not None:
            args += ["--policy", str(policy)]
        return self(*args), path

    def store(self) -> Store:
        """The store this operator's ``reaper`` uses (close it when done)."""
        return Store.from_conf(config.make_conf(["--config-file", str(self.conf_file)]))

    def audit_records(self) -> list[dict[str, Any]]:
        """Every record of the trail, oldest first, as CADF-shaped dicts."""
        conf = config.make_conf(["--config-file", str(self.conf_file)])
        with Store.from_conf(conf) as store:
            return [json.loads(r.body) for r in AuditRepository(store.db).records()]


def admin_auth(testbed: Testbed) -> dict[str, Any]:
    """The ``auth`` section of the testbed's admin cloud (what reaper runs as)."""
    import yaml  # type: ignore[import-untyped]

    clouds = yaml.safe_load(testbed.clouds_yaml.read_text())["clouds"]
    return dict(clouds[testbed.cloud_name]["auth"])


def load_plan(path: Path) -> Plan:
    return Plan.from_dict(json.loads(path.read_text()))


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- tenants ------------------------------------------------------------------------------


class TenantFarm:
    """Builds the session's tenants in parallel, and cleans up after them on a shared testbed.

    Tenants are ordered by key (``apply-doomed``); the first order of a key
    starts its build, later ones get the same tenant. Test modules declare
    what they need in a module-level ``TENANTS`` mapping, and the session
    fixture orders every selected module's tenants at once, so the whole
    session waits for one wave of builds, not one per module.

    ``cleanup`` is for a testbed the session attached to: a testbed the session
    started is taken down whole, so reaping its tenants would only cost time.
    """

    def __init__(self, admin: Connection, testbed: Testbed, *, cleanup: bool) -> None:
        self.admin = admin
        self.testbed = testbed
        self.cleanup = cleanup
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tenant-build")
        self._lock = threading.Lock()
        self._orders: dict[str, tuple[str, Future[Tenant]]] = {}
        self._reaped: set[str] = set()

    def order(self, key: str, spec: TenantSpec | None = None) -> Future[Tenant]:
        """The tenant ``key`` (named ``reaper-ft-<key>-<random>``), building or built.

        A build that is not done in :data:`BUILD_TIMEOUT` seconds fails (a server
        the services lost stays in BUILD forever); it sends at most
        :data:`BUILD_WORKERS` requests at a time.
        """
        with self._lock:
            if key not in self._orders:
                name = f"reaper-ft-{key}-{secrets.token_hex(3)}"
                spec = dataclasses.replace(
                    spec or TenantSpec(), timeout=BUILD_TIMEOUT, workers=BUILD_WORKERS
                )
                self._orders[key] = (name, self._pool.submit(build_tenant, self.admin, spec, name))
            return self._orders[key][1]

    def live(self) -> Future[Tenant]:
        """The session's one tenant that stays alive: reaper must never touch it."""
        return self.order("live", LIVE_SPEC)

    def reaped(self, tenant: Tenant) -> None:
        """``tenant`` was cleaned up by a test: nothing to reap at the end."""
        with self._lock:
            self._reaped.add(tenant.project_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if not self.cleanup:
            return
        left: list[str] = []
        for name, future in self._orders.values():
            if future.exception() is None:
                tenant = future.result()
                delete_identity(self.admin, tenant)
                if tenant.project_id not in self._reaped:
                    left.append(tenant.project_id)
                continue
            # A build that failed half-way: find what it made by name.
            identity: Any = self.admin.identity
            project = identity.find_project(name, domain_id="default")
            user = identity.find_user(f"{name}-user", domain_id="default")
            if user is not None:
                identity.delete_user(user.id, ignore_missing=True)
            if project is not None:
                identity.delete_project(project.id, ignore_missing=True)
                left.append(project.id)
        reap_in_background(self.testbed, left)


def reap_in_background(testbed: Testbed, project_ids: list[str]) -> None:
    """Reap deleted projects with ``reaper apply --project``, one process each, in parallel."""
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"reaper-ft-cleanup-{secrets.token_hex(3)}"
    env = {
        **os.environ,
        "OS_CLIENT_CONFIG_FILE": str(testbed.clouds_yaml),
        "OS_CLOUD": testbed.cloud_name,
        "XDG_STATE_HOME": str(home),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "reaper.cli.main", "apply", "--project", pid, "--yes"],
            env={**env, "XDG_STATE_HOME": str(home / pid)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in project_ids
    ]
    for process in processes:
        process.wait(timeout=600)


# -- matching the proxy's record with the plan ------------------------------------------


def step_of(plan: Plan, seen: Seen) -> str | None:
    """The id of the step a mutating request the proxy saw belongs to, if exactly one."""
    path = seen.path.split("?", 1)[0]
    service = {"block-storage": "block_storage"}.get(seen.service, seen.service)
    resources = {r.ref: r for r in plan.resources}
    candidates = []
    for step in plan.steps:
        if step.service != service:
            continue
        resource = resources[step.resource]
        if resource.type == "network.router_interface":
            key, methods = str(resource.attributes["router_id"]), {"PUT"}
        elif resource.type == "compute.keypair":
            key, methods = str(resource.name), {"DELETE"}
        elif resource.type == "network.router":
            key, methods = resource.id, {"DELETE"}
        else:
            key, methods = resource.id, {"DELETE", "POST", "PUT", "PATCH"}
        if seen.method in methods and f"/{key}" in path:
            candidates.append(step.id)
    return candidates[0] if len(candidates) == 1 else None
