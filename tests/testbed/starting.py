"""Starting optional services (``extras``) into a run: at ``up``, or into a run that is up.

Each service gets its ports (chosen under the same lock as every run's), its databases,
its configuration, its keystone wiring (one helper run for all the services started
together), then its own chain, in parallel with the others: setup commands, daemons,
bootstrap over RPC, APIs, and a wait until the APIs answer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import configs, extras, layout, mysql, ports, postgres, processes, rabbitmq, services
from .runner import Aborted, Progress, Run, report_dead, stderr
from .state import RunState


def start_extras(run_dir: Path, names: Iterable[str], progress: Progress = stderr) -> RunState:
    """Start optional services into a running run; returns the run's state afterwards.

    Services already running are left alone, so fixtures of several test modules may
    each ask for what they need. Under a lock in the run directory, the state is read
    afresh: another process (a test session attached to the same run) may have started
    some already. On failure the processes started here are stopped and the error raised;
    the run itself stays up.
    """
    wanted_all = extras.parse(names)
    run_dir = Path(run_dir)
    with ports.locked(run_dir / ".extras.lock"):
        state = RunState.load(run_dir)
        if state.status != "running":
            raise RuntimeError(f"testbed in {run_dir} is {state.status!r}, not running")
        wanted = [name for name in wanted_all if name not in state.services]
        if not wanted:
            return state
        run = Run(state, progress)
        before = dict(state.pids)
        try:
            start_into(run, wanted)
        except BaseException as exc:
            progress(f"starting {', '.join(wanted)} failed: {exc}")
            report_dead(state, progress)
            for name, pid in list(state.pids.items()):
                if before.get(name) != pid:
                    processes.stop_group(state.owner, pid)
                    del state.pids[name]
            for port in {port for name in wanted for port in extras.get(name).ports}:
                state.ports.pop(port, None)
            run.save()
            raise
        return state


def start_into(run: Run, wanted: list[str]) -> None:
    """Ports, databases, configs, keystone wiring, then each service's chain in parallel."""
    state = run.state
    chosen = [extras.get(name) for name in wanted]
    missing = [port for extra in chosen for port in extra.ports if port not in state.ports]
    if missing:
        ports.allocate(missing, layout.root(), _claim_more(run))
    # Runs started before a service existed here have no database for it yet.
    databases = [db for extra in chosen for db in extra.databases if db not in state.databases]
    if databases:
        state.databases.update(postgres.names(state.run_id, tuple(databases)))
        run.save()
        postgres.create(state.postgres_url, [state.databases[db] for db in databases])
    on_mysql = [db for extra in chosen for db in extra.mysql_databases
                if db not in state.mysql_databases]  # fmt: skip
    if on_mysql:
        state.mysql_url = state.mysql_url or mysql.server_url()
        state.mysql_databases.update(mysql.names(state.run_id, tuple(on_mysql)))
        run.save()
        mysql.create(state.mysql_url, [state.mysql_databases[db] for db in on_mysql])
    venv_etc = Path(state.venv) / "etc"
    for extra in chosen:
        configs.write(state, extra.files(state))
        for name in extra.paste:
            shutil.copy(venv_etc / extra.name / name, state.layout.etc_dir(extra.name) / name)
        state.urls.update({name: services.api_url(state, name, api.catalog_path)
                           for name, api in extra.apis(state).items()})  # fmt: skip
    run.save()
    label = ",".join(wanted)
    with run.timed(f"{label} started"), ThreadPoolExecutor(max_workers=len(chosen) + 1) as pool:
        wiring = pool.submit(
            run.step, services.helper_command(state, "keystone_setup", "--extras", label)
        )
        chains = [pool.submit(_extra_chain, run, extra, wiring) for extra in chosen]
        errors = []
        for future in [wiring, *chains]:
            try:
                future.result()
            except BaseException as exc:
                run.abort.set()
                errors.append(exc)
        real = [e for e in errors if not isinstance(e, Aborted)]
        if errors:
            raise (real or errors)[0]
    state.services = [name for name in extras.MODULES if name in {*state.services, *wanted}]
    resources_file = state.layout.run_dir / "resources.json"
    if resources_file.exists():
        state.resources.update(json.loads(resources_file.read_text()))
    run.save()


def _extra_chain(run: Run, extra: extras.Extra, wiring: Future[None]) -> None:
    """One optional service: setup, daemons, (keystone wired) bootstrap over RPC, APIs."""
    state = run.state
    with run.timed(f"{extra.name} ready"):
        for command in extra.setup(state):
            run.step(command)
        for command in extra.daemons(state).values():
            run.start(command)
        wiring.result()
        for queue in extra.rpc_consumers:
            rabbitmq.wait_for_consumer(state.vhost, queue)
        for command in extra.post_start(state) if extra.post_start else ():
            run.step(command)
        names = list(extra.apis(state))
        for name in names:
            run.start(extra.api_command(state, name))
        for name in names:
            run.wait_api(name)
        for command in extra.ready(state) if extra.ready else ():
            run.step(command)


def _claim_more(run: Run) -> Callable[[dict[str, int]], None]:
    def claim(chosen: dict[str, int]) -> None:
        run.state.ports.update(chosen)
        run.save()

    return claim
