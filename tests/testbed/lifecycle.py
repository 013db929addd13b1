"""Bringing a run up, restarting keystone, and tearing a run down.

``up`` does, in order: the services' venv (cached), a run directory and state.json,
ports, databases and a vhost, configuration files, then six chains in parallel (one per
service: schema sync, start, wait until its API answers), keystone's wiring as soon as
keystone answers, nova-compute once keystone, placement and nova's control plane are up,
and finally the cloud-wide resources. On any failure it prints the failing log's tail,
tears everything down and raises.

``down`` needs nothing but the run directory's state.json (or the directory's name), so
it works on a run started by another process and on a run that died half-way.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import (
    clouds,
    configs,
    extras,
    layout,
    mysql,
    ports,
    postgres,
    processes,
    rabbitmq,
    services,
    starting,
    venv,
)
from .layout import RunLayout
from .runner import API_TIMEOUT, STEP_TIMEOUT, Aborted, Progress, Run, report_dead, stderr
from .state import RunState

__all__ = ["API_TIMEOUT", "STEP_TIMEOUT", "Progress", "down", "leftovers", "runs", "up"]

FORMATS = ("basic", "cadf")


def _new_state(run_id: str, notification_format: str) -> RunState:
    run_dir = layout.root() / run_id
    vhost = rabbitmq.vhost_name(run_id)
    return RunState(
        run_id=run_id,
        run_dir=str(run_dir),
        created_at=time.time(),
        notification_format=notification_format,
        postgres_url=postgres.shared_url() or "",
        postgres_private=postgres.shared_url() is None,
        rabbit_url=rabbitmq.server_url(),
        vhost=vhost,
        transport_url=rabbitmq.transport_url(rabbitmq.server_url(), vhost),
        admin_password=secrets.token_urlsafe(12),
        service_password=secrets.token_urlsafe(12),
        databases=postgres.names(run_id, extras.all_databases()),
    )


def _chain(run: Run, setup: str, apis: tuple[str, ...] = (), daemons: tuple[str, ...] = ()) -> None:
    """One service: its schema commands, then its processes, then wait for its API."""
    state = run.state
    with run.timed(f"{setup} ready"):
        for command in services.setup_commands(state)[setup]:
            # keystone (then its wiring) and nova's schemas gate nova's control plane, the
            # longest path; on two cores the other schema syncs yield the CPU to them.
            run.step(command if setup in ("keystone", "nova") else command.niced())
        all_daemons = services.daemon_commands(state)
        for name in daemons:
            run.start(all_daemons[name])
        all_apis = services.apis(state)
        for name in apis:
            run.start(services.api_command(state, all_apis[name]))
        for name in apis:
            run.wait_api(name)


def _keystone(run: Run) -> None:
    _chain(run, "keystone", ("keystone",))
    with run.timed("keystone wired"):
        run.step(services.helper_command(run.state, "keystone_setup"))


def _nova_services(run: Run, needs: list[Future[None]]) -> None:
    """nova's conductor and scheduler, then nova-compute.

    The conductor and the scheduler authenticate to placement as they start (and exit if
    the nova user does not exist yet), so they wait for keystone's wiring; nova-compute
    waits for the conductor to consume, as its first RPC call would otherwise be lost.
    """
    for future in needs:
        future.result()
    with run.timed("nova services started"):
        daemons = services.daemon_commands(run.state)
        run.start(daemons["nova-conductor"])
        run.start(daemons["nova-scheduler"])
        rabbitmq.wait_for_consumer(run.state.vhost, "conductor")
        run.start(daemons["nova-compute"])


def _bring_up(run: Run) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keystone = pool.submit(_keystone, run)
        placement = pool.submit(_chain, run, "placement", ("placement",))
        nova = pool.submit(_chain, run, "nova", ("nova-api",))
        chains = [
            keystone,
            placement,
            nova,
            pool.submit(_chain, run, "glance", ("glance-api",)),
            pool.submit(
                _chain, run, "cinder", ("cinder-api",), ("cinder-scheduler", "cinder-volume")
            ),
            pool.submit(_chain, run, "neutron", ("neutron-api",)),
        ]
        chains.append(pool.submit(_nova_services, run, [keystone, placement, nova]))
        errors = []
        for future in chains:
            try:
                future.result()
            except BaseException as exc:
                run.abort.set()
                errors.append(exc)
    real = [e for e in errors if not isinstance(e, Aborted)]
    if real or errors:
        raise (real or errors)[0]
    with run.timed("cloud resources"):
        run.step(services.helper_command(run.state, "resources"))
    resources_file = run.state.layout.run_dir / "resources.json"
    run.state.resources = json.loads(resources_file.read_text())


def up(
    run_id: str | None = None,
    notification_format: str = "basic",
    keep_on_failure: bool = False,
    progress: Progress = stderr,
    extra_services: Iterable[str] = (),
) -> RunState:
    """Bring a whole testbed up and return its state; on failure, clean up and raise.

    ``extra_services`` (``swift``, ``octavia``, ``designate``) start once the core is up.
    """
    if notification_format not in FORMATS:
        raise ValueError(f"notification format must be one of {FORMATS}")
    wanted = extras.parse(extra_services)
    run_id = layout.check_run_id(run_id or layout.new_run_id())
    state = _new_state(run_id, notification_format)
    if state.layout.state_file.exists():
        raise RuntimeError(f"{state.run_dir} already exists: bring it down first")
    started = time.monotonic()
    state.layout.make_dirs()
    state.save()
    run = Run(state, progress)
    progress(f"run {run_id} in {state.run_dir}")
    try:
        with run.timed("venv"):
            state.venv = str(venv.ensure())
        port_names = list(services.core_apis(state)) + (
            ["postgres"] if state.postgres_private else []
        )
        ports.allocate(port_names, layout.root(), _claim(run))
        if state.postgres_private:
            state.postgres_url = postgres.private_url(state.ports["postgres"])
        state.urls = {name: services.api_url(state, name, api.catalog_path)
                      for name, api in services.core_apis(state).items()}  # fmt: skip
        state.keystone_url = state.urls["keystone"]
        with run.timed("databases and vhost"), ThreadPoolExecutor(2) as pool:
            created = [
                pool.submit(_databases, run),
                pool.submit(rabbitmq.create, state.rabbit_url, state.vhost),
            ]
            for future in created:
                future.result()
        configs.write_all(state)
        clouds.write(state)
        run.save()
        _bring_up(run)
        if wanted:
            starting.start_into(run, wanted)
        state.timings["total"] = round(time.monotonic() - started, 1)
        state.status = "running"
        run.save()
        progress(f"up in {state.timings['total']:.0f}s")
        return state
    except BaseException as exc:
        progress(f"up failed: {exc}")
        report_dead(state, progress)
        if not keep_on_failure:
            progress("cleaning up the failed run")
            down(Path(state.run_dir), keep_logs=False, progress=progress)
        raise


#: Connections a testbed may open under load (its pools are capped in configs.database).
PG_CONNECTIONS_NEEDED = 60


def _databases(run: Run) -> None:
    """The run's databases: on a private server it starts, or on the shared one."""
    state = run.state
    if state.postgres_private:
        postgres.init_private(state.layout.pgdata)
        run.start(postgres.private_command(state.layout.pgdata, state.ports["postgres"]))
        postgres.wait_ready(state.postgres_url)
    else:
        free = postgres.free_connections(state.postgres_url)
        if free < PG_CONNECTIONS_NEEDED:
            run.progress(
                f"warning: PostgreSQL accepts only {free} more connections and a testbed may "
                f"use {PG_CONNECTIONS_NEEDED}; services will answer 500 if it runs out"
            )
    postgres.create(state.postgres_url, list(state.databases.values()))


def _claim(run: Run) -> Callable[[dict[str, int]], None]:
    def claim(chosen: dict[str, int]) -> None:
        run.state.ports = chosen
        run.save()

    return claim


def set_notification_format(state: RunState, notification_format: str) -> None:
    """Restart keystone with another ``notification_format`` (the config is read at start)."""
    if notification_format not in FORMATS:
        raise ValueError(f"notification format must be one of {FORMATS}")
    state.notification_format = notification_format
    configs.write(state, configs.keystone(state))
    old = state.pids.get("keystone")
    if old:
        processes.stop_group(state.owner, old)
    run = Run(state, lambda _message: None)
    run.start(services.api_command(state, services.apis(state)["keystone"]))
    run.wait_api("keystone")


def _is_run_dir(run_dir: Path) -> bool:
    if (run_dir / "state.json").exists():
        return True
    try:
        layout.check_run_id(run_dir.name)
    except ValueError:
        return False
    return run_dir.parent == layout.root()


def down(run_dir: Path, keep_logs: bool = False, progress: Progress = stderr) -> None:
    """Stop every process of the run, drop its databases and vhost, remove its directory.

    Idempotent: each part is attempted even if another failed, and a part already gone
    is not an error. Raises at the end if anything could not be cleaned.
    """
    run_dir = Path(run_dir)
    if not _is_run_dir(run_dir):
        raise ValueError(f"{run_dir} is not a testbed run directory")
    try:
        state: RunState | None = RunState.load(run_dir)
    except (OSError, ValueError):
        state = None
    run_id = state.run_id if state else layout.check_run_id(run_dir.name)
    # Without state.json nothing says where the databases are: try the shared server.
    shared = postgres.shared_url() if state is None else None
    if state is not None and not state.postgres_private:
        shared = state.postgres_url
    problems: list[str] = []
    owner = state.owner if state else processes.Owner(run_id, (RunLayout(run_dir).pgdata,))
    survivors = processes.stop(owner, state.pids.values() if state else [])
    if survivors:
        problems.append(f"processes still alive: {survivors}")
    busy = [port for port in (state.ports.values() if state else []) if processes.listening(port)]
    if busy:
        problems.append(f"something still listens on ports {busy}")
    # A private server stopped with the processes; its data goes with the run directory.
    actions = [("vhost", lambda: rabbitmq.delete(rabbitmq.vhost_name(run_id)))]
    if shared:
        names = list(postgres.names(run_id, extras.all_databases()).values())
        actions.append(("databases", lambda: postgres.drop(shared, names)))
    if state is not None and state.mysql_databases:
        on_mysql = list(state.mysql_databases.values())
        actions.append(("MySQL databases", lambda: mysql.drop(state.mysql_url, on_mysql)))
    for label, action in actions:
        # Every part is attempted, whatever failed before it.
        try:
            action()
        except Exception as exc:
            problems.append(f"{label}: {exc}")
    if keep_logs and state is not None:
        shutil.rmtree(state.layout.pgdata, ignore_errors=True)
        state.status = "down"
        state.pids = {}
        state.save()
    elif not keep_logs:
        shutil.rmtree(run_dir, ignore_errors=True)
    if problems:
        raise RuntimeError(f"down of {run_id} incomplete: " + "; ".join(problems))
    progress(f"run {run_id} is down" + (f" (logs kept in {run_dir})" if keep_logs else ""))


def leftovers(state: RunState) -> dict[str, list[str]]:
    """What of a run still exists on the machine: processes, listeners, databases, vhost."""
    run_id = state.run_id
    vhost = rabbitmq.vhost_name(run_id)
    return {
        "processes": [str(pid) for pid in processes.run_processes(state.owner)],
        "listening ports": [str(p) for p in state.ports.values() if processes.listening(p)],
        "databases": _databases_left(state)
        + (mysql.existing(state.mysql_url, f"{run_id}_") if state.mysql_url else []),
        "vhosts": [v for v in rabbitmq.existing() if v == vhost],
    }


def _databases_left(state: RunState) -> list[str]:
    port = state.ports.get("postgres")
    if state.postgres_private and (port is None or not processes.listening(port)):
        return []
    return postgres.existing(state.postgres_url, f"{state.run_id}_")


def runs() -> list[Path]:
    """The run directories under the root, oldest first."""
    root = layout.root()
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _is_run_dir(p)]
    return sorted(found, key=lambda p: p.stat().st_mtime)
