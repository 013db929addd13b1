"""B2 storm (reduced): project deletions drained by 1, 2 and 4 controllers on one PostgreSQL.

``python -m benchmarks storm [--projects 40] [--controllers 1,2,4] [--workers 4]
[--cap 8] [--latency 0.05] [--async-delete 2] [--retry-after 1]``
(``--full`` is issue 18's 1,000 projects).

The cloud is :mod:`benchmarks.stormcloud`: Nova, Cinder and Neutron holding
``--servers``/``--volumes``/``--ports`` per project, ``--latency`` per
request, servers and volumes gone ``--async-delete`` seconds after their
DELETE was accepted, and each service serving at most ``--cap`` requests
at once, answering the others 429 with ``Retry-After: --retry-after``.

A controller is a process of its own with ``--workers`` threads, as
reaper-controller's workers: each claims a project from a queue table in a
throwaway PostgreSQL database (``FOR UPDATE SKIP LOCKED``, as tombstones
are claimed), lists what it holds (three reads), and runs reaper's
executor over the plan (servers, then their volumes; ports) through
reaper's guarded session: per-plan caps of ``--cap``, retries honouring
``Retry-After``, batched confirmation listings. Two ways, side by side:

* **budget** (now): one budget per controller, its caps shared by every
  controller through the store's ``budget_slots`` (``--cap`` per service
  cloud-wide), paused and slowed by 429s;
* **per-plan** (the old behaviour, the baseline): only the executor's
  per-plan caps, no shared budget, no pause: ``workers x cap`` requests per
  service per controller; and each plan's first confirmation listing
  ``confirm_interval`` after its DELETEs, learning nothing from the plans
  before (no :data:`reaper.executor.durations.PROCESS`).

Printed per run, from the fake cloud's side (the witness): drain time
(from the storm's arrival at controllers already running), requests per
cleaned resource, the peak of requests arriving at once per service
(cloud-wide) against the cap, the 429 rate, duplicate step starts (a
second DELETE of a resource already accepted), misses (resources left,
projects not drained), the largest controller's peak RSS; then the
requests per resource by purpose (discovery listings, DELETEs,
confirmation listings, 429s, other), the mean time per project and the
seconds requests waited for a budget slot.
Targets (issue 18): <= 1.5 requests per resource, 0 duplicates, 0 misses,
concurrency never above the cloud-wide cap, 4 controllers >= 3x faster than
1 until the cap binds. The exit status follows the three safety targets
(duplicates, misses, the cap); requests per resource is printed beside
them, with its floor at the sizes asked: one listing per type per project
and one DELETE per resource, 1.5 at the default 2/2/2 (confirmations by
per-project listings, at least one per asynchronous type, make it 1.83
at best there).

Measured 2026-12-06 21:00 on a shared 2-core machine (load 14-16, two
OpenStack testbeds of other sessions running; defaults: 40 projects x 6
resources, 50 ms, async deletes 2 s, capacity and cap 8, 4 workers per
controller):

========  ===  =======  =======  ===============  =====  ===  ====  ==========
mode      ctl  drain s  req/res  peak c/b/n (8)   429 %  dup  miss  slot wait
========  ===  =======  =======  ===============  =====  ===  ====  ==========
budget    1    56.0     1.99     4/3/4            0.0    0    0     4.0 s
budget    2    30.0     2.03     5/5/4            0.0    0    0     8.1 s
budget    4    20.1     2.10     4/5/6            0.0    0    0     37.4 s
per-plan  1    58.9     2.50     5/4/5            0.0    0    0
per-plan  2    30.4     2.50     5/6/5            0.0    0    0
per-plan  4    19.4     2.51     9/9/8            0.5    0    0
========  ===  =======  =======  ===============  =====  ===  ====  ==========

Requests per resource, budget x1: discovery 0.50, DELETE 1.00,
confirmation 0.49 (per-plan: 1.00), 429 0. The first confirmation
listing of each plan now waits for what the controller's earlier
removals took (:mod:`reaper.executor.durations`) instead of listing at
0.5, 1.3 and 2.5 s. 4 controllers 2.8x one here: 40 projects on 16
workers is 2.5 rounds, so 3.3x at best; with ``--projects 80`` (load 15,
21:04): budget 106.7 / 55.6 / 31.0 s (3.4x), per-plan 113.5 / 59.4 /
35.6 s (3.2x), 1.96-2.04 requests per resource against 2.50. With
``--servers 5 --volumes 5 --ports 5 --controllers 1,4`` (floor 1.20,
the cap binds: peak 8/8/8): budget 1.40 / 1.45 requests per resource,
54.0 / 18.6 s; per-plan 1.61 / 1.61, 58.6 / 22.1 s with 0.4% / 1.8% 429.

Toward the full B2, ``--full --controllers 4 --workers 8`` (1,000
projects, 6,000 resources, load 16-25, 21:15): budget 212.4 s, 1.97
requests per resource, peak 8/8/7 (the cap binds), 0% 429, 0 duplicates,
0 misses, 75 MiB per controller; per-plan 199.7 s, 2.51, peak 12/13/10
over the cap, 0.5% 429. (No user deletions, shared images or server
groups here: the harness lists three types per project.)

Before the fair share (same day, load 4-10) the budget's 4 controllers
waited 95 s in all for slots (peak 4-6 of 8: the cap never bound),
because a controller kept every slot it had used until its next renewal
(10 s) and claimed them one transaction at a time; now idle slots go
back after 3 s, a burst is one claim, and while a controller waits the
others use no more than their fair share.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from sqlalchemy import create_engine, text

from benchmarks.stormcloud import KINDS, StormCloud, StormSpec, project_id

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
SERVICES = ("compute", "block_storage", "network")
MODES = ("budget", "per-plan")


@dataclasses.dataclass(frozen=True)
class Run:
    mode: str
    controllers: int
    workers: int
    cap: int
    lease: float = 30.0


# -- one controller, in a process of its own ----------------------------------------


def _controller(run: Run, name: str, db_url: str, auth: Mapping[str, str], pipe: Any) -> None:
    """One controller: set up (store, budget, token), say ready, wait for the storm, drain."""
    import psutil
    from keystoneauth1.identity import v3

    from reaper import cloud
    from reaper.budget import Budget, PaceRules
    from reaper.store import Store
    from reaper.store.slots import SlotRepository

    caps = {s: run.cap for s in SERVICES}
    store = Store.open(db_url)
    shared = None
    if run.mode == "budget":
        budget = Budget(caps)
        from reaper.budget import SharedSlots

        shared = SharedSlots(SlotRepository(store.db), name, lease=run.lease).start()
        budget.attach(shared)
    else:  # the old behaviour: no process cap, no pause
        budget = Budget(
            {}, default_cap=10**6, rules=PaceRules(retry_after_max=1.0, default_pause=0)
        )
        budget.rules = PaceRules(retry_after_max=0.0, default_pause=0.0)
    session = cloud.GuardedSession(auth=v3.Password(**auth))
    session.budget = budget
    session.get_token()
    engine = create_engine(db_url, pool_size=run.workers + 2)
    with engine.connect() as conn:  # the pool warm, as a running controller's is
        conn.execute(text("SELECT 1"))
    counts = Counts()
    drained: list[float] = []
    # A running controller meets the storm: its setup is not part of the drain.
    pipe.send("ready")
    pipe.recv()

    def work() -> None:
        while True:
            with engine.begin() as conn:
                row = conn.execute(
                    text(
                        "SELECT project FROM storm_jobs WHERE claimed_by IS NULL "
                        "ORDER BY project LIMIT 1 FOR UPDATE SKIP LOCKED"
                    )
                ).first()
                if row is None:
                    return
                conn.execute(
                    text("UPDATE storm_jobs SET claimed_by = :n WHERE project = :p"),
                    {"n": name, "p": row[0]},
                )
            started = time.monotonic()
            ok = _drain(session, row[0], caps, counts, learn=run.mode == "budget")
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE storm_jobs SET done = :ok WHERE project = :p"),
                    {"ok": ok, "p": row[0]},
                )
            drained.append(time.monotonic() - started)

    threads = [threading.Thread(target=work) for _ in range(run.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if shared is not None:
        shared.stop()
    rss = psutil.Process().memory_info().rss
    pipe.send(
        {
            "name": name,
            "drained": len(drained),
            "project_s": sum(drained) / max(1, len(drained)),
            "rss": rss,
            "peaks": budget.peaks(),
            "waited": budget.waited(),
            "counts": dict(counts.counter),
        }
    )
    store.close()


class Counts:
    """What the harness's runners sent, by purpose (thread-safe)."""

    def __init__(self) -> None:
        import collections

        self.lock = threading.Lock()
        self.counter: collections.Counter[str] = collections.Counter()

    def add(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counter[what] += n


def _drain(
    session: Any, project: int, caps: Mapping[str, int], counts: Counts, *, learn: bool
) -> bool:
    """One project: three listings, then reaper's executor over the plan."""
    from reaper.executor import Executor, Limits, durations
    from reaper.model import IdentityKind, IdentityRef, Plan, Resource, Step, utcnow

    pid = project_id(project)
    runner = StormRunner(session, pid, counts)
    found = {kind: runner.list(kind, "discovery") for kind in KINDS}
    resources = [
        Resource(type=f"{KINDS[kind][0]}.{kind[:-1]}", id=rid, project_id=pid)
        for kind, ids in found.items()
        for rid in sorted(ids)
    ]
    servers = [f"delete:compute.server:{rid}" for rid in sorted(found["servers"])]
    steps = [
        Step(
            id=f"delete:{r.type}:{r.id}",
            action="delete",
            resource=r.ref,
            depends_on=tuple(servers) if r.type == "block_storage.volume" else (),
        )
        for r in resources
    ]
    plan = Plan(
        identity=IdentityRef(IdentityKind.PROJECT, pid),
        created_at=utcnow(),
        resources=tuple(resources),
        steps=tuple(steps),
    )
    limits = Limits(concurrency=dict(caps), confirm_interval=0.5, confirm_max_interval=2.0)
    # As reaper-controller's workers do (cleanup/execute.py): one memory per process.
    executor = Executor(runner, limits=limits, durations=durations.PROCESS if learn else None)
    return executor.execute(plan).succeeded


class StormRunner:
    """The executor's runner: one DELETE per step, one listing per type to confirm."""

    PATHS: ClassVar[dict[str, tuple[str, str, str]]] = {
        "compute.server": ("compute", "/servers", "servers"),
        "block_storage.volume": ("block-storage", "/volumes", "volumes"),
        "network.port": ("network", "/v2.0/ports", "ports"),
    }

    def __init__(self, session: Any, project: str, counts: Counts) -> None:
        self.session = session
        self.project = project
        self.counts = counts

    def list(self, kind: str, purpose: str) -> set[str]:
        rtype = {"servers": "compute.server", "volumes": "block_storage.volume"}.get(
            kind, "network.port"
        )
        service, path, key = self.PATHS[rtype]
        suffix = "/detail" if kind != "ports" else ""
        self.counts.add(purpose)
        answer = self.session.get(
            f"{path}{suffix}?project_id={self.project}&all_tenants=1",
            endpoint_filter={"service_type": service, "interface": "public"},
        )
        return {item["id"] for item in answer.json()[key]}

    def precheck(self, steps: Any, resources: Any) -> dict[Any, Any]:
        return {}

    def lookup_first(self, step: Any, resource: Any) -> bool:
        return False

    def run(self, step: Any, resource: Any) -> Any:
        from keystoneauth1 import exceptions as ks_exc

        from reaper.budget import retry_after
        from reaper.executor import Attempt, Fatal, Result, Transient
        from reaper.model import utcnow

        service, path, _ = self.PATHS[step.resource.type]
        try:
            answer = self.session.delete(
                f"{path}/{step.resource.id}",
                endpoint_filter={"service_type": service, "interface": "public"},
            )
        except ks_exc.NotFound:
            return Attempt(Result.GONE)
        except ks_exc.HttpError as exc:
            headers = getattr(getattr(exc, "response", None), "headers", None)
            hint = retry_after.of_headers(headers, utcnow())
            if exc.http_status in (429, 503):
                raise Transient(f"HTTP {exc.http_status}", retry_after=hint) from exc
            raise Fatal(f"HTTP {exc.http_status}") from exc
        return Attempt(Result.ACCEPTED if answer.status_code == 202 else Result.DONE)

    def confirm(self, rtype: str, action: str, pending: Mapping[str, Any]) -> Any:
        from reaper.executor import Confirmation

        kind = {"compute.server": "servers", "block_storage.volume": "volumes"}[rtype]
        listed = self.list(kind, "confirmation")
        return Confirmation(gone=frozenset(rid for rid in pending if rid not in listed))


# -- one run --------------------------------------------------------------------------


def run_one(spec: StormSpec, run: Run) -> dict[str, Any]:
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    name = f"reaper_storm_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    db_url = f"{PG_SERVER}/{name}"
    try:
        from reaper.store import Store

        Store.open(db_url).close()  # migrated: budget_slots exists
        engine = create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE storm_jobs (project int PRIMARY KEY, claimed_by text, done bool)"
                )
            )
            conn.execute(
                text("INSERT INTO storm_jobs (project) SELECT generate_series(0, :n - 1)"),
                {"n": spec.projects},
            )
        with StormCloud(spec) as fake:
            ctx = multiprocessing.get_context("fork")
            pipes, procs = [], []
            for i in range(run.controllers):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(
                    target=_controller, args=(run, f"c{i}", db_url, fake.auth(), theirs)
                )
                proc.start()
                pipes.append(mine)
                procs.append(proc)
            for pipe in pipes:  # every controller up: the storm arrives now
                pipe.recv()
            fake.reset()  # their setup (token, version documents) is not the storm's
            started = time.monotonic()
            for pipe in pipes:
                pipe.send("go")
            reports = [pipe.recv() for pipe in pipes]
            drained_at = time.monotonic() - started
            for proc in procs:
                proc.join(30)
            stats = fake.stats()
        with engine.begin() as conn:
            undone = conn.execute(text("SELECT count(*) FROM storm_jobs WHERE done IS NOT TRUE"))
            not_drained = int(undone.scalar() or 0)
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    resources = spec.projects * (spec.servers + spec.volumes + spec.ports)
    api = {k: v for k, v in stats["requests"].items() if k in SERVICES}
    throttled = sum(stats["throttled"].get(s, 0) for s in SERVICES)
    counts: dict[str, int] = {}
    for report in reports:
        for what, n in report["counts"].items():
            counts[what] = counts.get(what, 0) + n
    served = {k: v for k, v in stats["served"].items() if k.split()[0] in SERVICES}
    deletes = sum(v for k, v in served.items() if " delete" in k)
    cleaned = max(1, stats["deleted"])
    known = counts.get("discovery", 0) + counts.get("confirmation", 0) + deletes + throttled
    breakdown = {
        "discovery": counts.get("discovery", 0) / cleaned,
        "delete": deletes / cleaned,
        "confirm": counts.get("confirmation", 0) / cleaned,
        "429": throttled / cleaned,
        "other": (sum(api.values()) - known) / cleaned,
    }
    return {
        "breakdown": breakdown,
        "floor": (len(KINDS) * spec.projects + resources) / max(1, resources),
        "waited": sum(sum(r["waited"].values()) for r in reports),
        "project_s": sum(r["project_s"] * r["drained"] for r in reports)
        / max(1, sum(r["drained"] for r in reports)),
        "drain": drained_at,
        "requests": sum(api.values()),
        "per_resource": sum(api.values()) / max(1, stats["deleted"]),
        "peak": {s: stats["offered_peak"].get(s, 0) for s in SERVICES},
        "served_peak": {s: stats["peak"].get(s, 0) for s in SERVICES},
        "rate_429": throttled / max(1, sum(api.values())),
        "duplicates": stats["duplicates"],
        "misses": stats["left"] + not_drained,
        "cleaned": resources - stats["left"],
        "rss": max(r["rss"] for r in reports),
    }


# -- the table -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks storm", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--projects", type=int, default=40, help="project deletions (40)")
    parser.add_argument("--full", action="store_true", help="issue 18's 1,000 projects")
    parser.add_argument("--controllers", default="1,2,4", help="controller counts (1,2,4)")
    parser.add_argument("--workers", type=int, default=4, help="workers per controller (4)")
    parser.add_argument("--cap", type=int, default=8, help="per-service cap and capacity (8)")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--volumes", type=int, default=2)
    parser.add_argument("--ports", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--async-delete", type=float, default=2.0, help="seconds (2)")
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds (1)")
    parser.add_argument("--modes", default=",".join(MODES), help="budget,per-plan")
    args = parser.parse_args(argv)
    spec = StormSpec(
        projects=1000 if args.full else args.projects,
        servers=args.servers,
        volumes=args.volumes,
        ports=args.ports,
        latency=args.latency,
        async_delete=args.async_delete,
        capacity=args.cap,
        retry_after=args.retry_after,
    )
    counts = [int(x) for x in args.controllers.split(",") if x.strip()]
    modes = [m for m in args.modes.split(",") if m in MODES]
    print(
        f"B2 storm: {spec.projects} projects x ({spec.servers} servers, {spec.volumes} volumes, "
        f"{spec.ports} ports), {spec.latency * 1000:.0f} ms, "
        f"async deletes {spec.async_delete:g} s, "
        f"each service serving {spec.capacity} at once (429 Retry-After {spec.retry_after:g} s "
        f"beyond), cap {args.cap} per service, {args.workers} workers per controller"
    )
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for mode in modes:
        for n in counts:
            results[(mode, n)] = run_one(spec, Run(mode, n, args.workers, args.cap))
            print(f"  {mode} x{n}: {_line(results[(mode, n)], args.cap)}", flush=True)
    print()
    header = (
        f"{'mode':<9} {'ctl':>3} {'drain s':>8} {'req/res':>7} "
        f"{'peak c/b/n (cap)':>18} {'429 %':>6} {'dup':>4} {'miss':>4} {'RSS MiB':>8}"
    )
    print(header)
    for (mode, n), r in results.items():
        print(f"{mode:<9} {n:>3} {_line(r, args.cap, table=True)}")
    print(
        "\nrequests per cleaned resource, by what they were (the floor at these sizes: "
        f"one listing per type per project and one DELETE per resource = "
        f"{next(iter(results.values()))['floor']:.2f})"
    )
    print(
        f"{'mode':<9} {'ctl':>3} {'discover':>8} {'delete':>7} {'confirm':>7} {'429':>6} "
        f"{'other':>6} {'total':>6} {'project s':>9} {'slot wait s':>11}"
    )
    for (mode, n), r in results.items():
        b = r["breakdown"]
        print(
            f"{mode:<9} {n:>3} {b['discovery']:>8.2f} {b['delete']:>7.2f} {b['confirm']:>7.2f} "
            f"{b['429']:>6.2f} {b['other']:>6.2f} {r['per_resource']:>6.2f} "
            f"{r['project_s']:>9.2f} {r['waited']:>11.1f}"
        )
    return _targets(results, counts, args.cap)


def _line(r: Mapping[str, Any], cap: int, *, table: bool = False) -> str:
    peaks = "/".join(str(r["peak"][s]) for s in SERVICES)
    if table:
        return (
            f"{r['drain']:>8.1f} {r['per_resource']:>7.2f} {peaks + f' ({cap})':>18} "
            f"{r['rate_429'] * 100:>6.1f} {r['duplicates']:>4} {r['misses']:>4} "
            f"{r['rss'] / 2**20:>8.0f}"
        )
    return (
        f"drain {r['drain']:.1f} s, {r['per_resource']:.2f} requests/resource, peak {peaks} "
        f"(cap {cap}), 429 {r['rate_429'] * 100:.1f}%, duplicates {r['duplicates']}, "
        f"misses {r['misses']}"
    )


def _targets(
    results: Mapping[tuple[str, int], Mapping[str, Any]], counts: list[int], cap: int
) -> int:
    mine = {n: r for (m, n), r in results.items() if m == "budget"}
    if not mine:
        return 0
    checks = [
        ("requests per resource <= 1.5", all(r["per_resource"] <= 1.5 for r in mine.values())),
        ("0 duplicates", all(r["duplicates"] == 0 for r in mine.values())),
        ("0 misses", all(r["misses"] == 0 for r in mine.values())),
        (
            "never above the cloud-wide cap",
            all(max(r["peak"].values()) <= cap for r in mine.values()),
        ),
    ]
    if 1 in mine and max(counts) in mine and max(counts) > 1:
        speedup = mine[1]["drain"] / mine[max(counts)]["drain"]
        checks.append(
            (
                f"{max(counts)} controllers vs 1: {speedup:.1f}x (>= 3x until the cap binds)",
                speedup >= 3,
            )
        )
    print("\ntargets (budget):")
    for what, ok in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {what}")
    return 0 if all(ok for _, ok in checks[1:4]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
