"""How fast the audit trail appends and verifies, and whether verify's memory stays flat.

Run ``python -m benchmarks.audit_bench`` (``--help`` for sizes). It measures,
on a fresh embedded SQLite store and a throwaway PostgreSQL database:

* single appends (one record per transaction, as a controller records each
  step) and batched appends (``AuditTrail.batch``), in records per second;
* ``verify`` over a trail of ``--records`` records (1,000,000 by default),
  in records per second, with the process's resident memory sampled while
  it runs: flat means the growth at the end is the growth at the start.

Targets on the reference machine: appends >= 1,000/s on SQLite, verify
>= 50,000 records/s, flat memory. The machine is shared: the load average
is printed beside the numbers, and each row also gives CPU seconds (this
process and its workers) and records per CPU-second, which a busy
neighbour barely changes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import secrets
import shutil
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from reaper.audit import parallel
from reaper.audit.parallel import verify_store
from reaper.audit.record import Actor, AuditReason, AuditTarget, RecordDraft
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.audit.verify import Verifier
from reaper.store import Store, StoreError

MIB = 1024 * 1024
T = TypeVar("T")


@dataclass
class Row:
    what: str
    n: int
    seconds: float
    #: CPU seconds of this process and the workers it waited for: unlike wall
    #: time, barely affected by other processes competing for the CPUs.
    cpu: float

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else float("inf")

    @property
    def cpu_rate(self) -> float:
        return self.n / self.cpu if self.cpu else float("inf")


class Clock:
    """Wall and CPU time (including waited-for child processes) since creation."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = self._cpu_now()

    @staticmethod
    def _cpu_now() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, self._cpu_now() - self._cpu


def timed(what: str, n: int, work: Callable[[], object]) -> Row:
    clock = Clock()
    work()
    return Row(what, n, *clock.read())


def make_trail(store: Store, streams: int = 1) -> AuditTrail:
    return AuditTrail(
        store,
        initiator=Actor.service_user(),
        observer=Actor.instance("bench"),
        streams=streams,
    )


def realistic(trail: AuditTrail, i: int) -> RecordDraft:
    """A step record as the executor will write it: a server, its before-image, a policy."""
    server_id = f"{i:08x}-9d2b-4c38-8d4f-2d2bb1d0b1a7"
    return trail.draft(
        action="delete",
        outcome="success",
        target=AuditTarget("compute.server", server_id, name=f"vm-{i}", project_id="p" * 32),
        reason=AuditReason.policy_match("default", "orphaned-servers", "owner project deleted"),
        tombstone_id="6f1c1f9e-9d2b-4c38-8d4f-2d2bb1d0b1a7",
        plan_hash="ab" * 32,
        step_id=f"delete:compute.server:{server_id}",
        before={
            "name": f"vm-{i}",
            "status": "ACTIVE",
            "flavor": {"id": "m1.small", "vcpus": 1, "ram": 2048},
            "addresses": {"private": [{"addr": f"10.0.{i % 250}.{i % 200}", "version": 4}]},
            "metadata": {"owner": "team-a"},
            "created_at": "2024-01-01T00:00:00Z",
        },
    )


def bench_single(store: Store, n: int) -> None:
    """One record per transaction, built and appended as AuditTrail.append does."""
    trail = make_trail(store)
    for i in range(n):
        trail.append_many([realistic(trail, i)])


def bench_batched(store: Store, n: int, size: int) -> None:
    trail = make_trail(store)
    done = 0
    while done < n:
        with trail.batch() as batch:
            for i in range(done, min(done + size, n)):
                batch.add(realistic(trail, i))
        done += size


def populate(store: Store, n: int, *, progress: bool = True) -> None:
    """Fill the trail quickly: a thousand distinct drafts, appended in large batches."""
    trail = make_trail(store)
    drafts = [realistic(trail, i) for i in range(1000)]
    done = 0
    while done < n:
        size = min(5000, n - done)
        trail.append_many([drafts[(done + j) % 1000] for j in range(size)])
        done += size
        if progress and done % 100_000 == 0:
            print(f"  ... {done:,} records", flush=True)
    trail.checkpoint()


class RssSampler:
    """Samples the resident memory of this process and its workers while verify runs."""

    def __init__(self, interval: float = 0.05) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self.worker_peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._process.memory_info().rss)
            workers = 0
            for child in self._process.children():
                with contextlib.suppress(psutil.Error):
                    workers = max(workers, child.memory_info().rss)
            self.worker_peak = max(self.worker_peak, workers)

    def now(self) -> int:
        return self._process.memory_info().rss - self.baseline

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def milestones(
    records: Iterable[T], total: int, sampler: RssSampler, at: dict[str, int]
) -> Iterator[T]:
    """Pass records through, noting the memory growth at each quarter of the way."""
    marks = {total * q // 4: f"{q * 25}%" for q in (1, 2, 3, 4)}
    for count, rec in enumerate(records, 1):
        if count in marks:
            at[marks[count]] = sampler.now()
        yield rec


@dataclass
class VerifyRun:
    seconds: float
    cpu: float
    growth: dict[str, int]
    peak: int
    worker_peak: int
    ok: bool


def bench_verify(store: Store, total: int, workers: int) -> VerifyRun:
    """verify_store's work, with memory noted along the way."""
    audit = AuditRepository(store.db)
    head, cp_head = audit.heads()
    at: dict[str, int] = {}
    with RssSampler() as sampler:
        clock = Clock()
        records: Iterable[Any] = (
            parallel.inspected(audit.url, 1, head.seq, workers=workers)
            if workers
            else audit.records(1, head.seq)
        )
        report = Verifier().run(
            milestones(records, total, sampler, at),
            audit.checkpoints(max_number=cp_head.number),
            chain_head=head,
            checkpoint_head=cp_head,
        )
        seconds, cpu = clock.read()
    return VerifyRun(
        seconds, cpu, at, sampler.peak - sampler.baseline, sampler.worker_peak, report.ok
    )


def describe(label: str, run: VerifyRun) -> str:
    quarters = ", ".join(f"{k} {v / MIB:+.1f}" for k, v in run.growth.items())
    workers = f"; largest worker {run.worker_peak / MIB:.0f} MiB" if run.worker_peak else ""
    return (
        f"{label}: RSS growth at {quarters} MiB; peak {run.peak / MIB:+.1f} MiB"
        f"{workers}; verdict {'OK' if run.ok else 'FAILED'}"
    )


def traced_peak(store: Store, to_seq: int) -> int:
    """Peak Python heap (tracemalloc) while verifying records 1..to_seq."""
    tracemalloc.start()
    try:
        report = verify_store(AuditRepository(store.db), to_seq=to_seq, workers=0)
        assert report.ok
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@contextlib.contextmanager
def postgresql(admin_url: str) -> Iterator[str]:
    """A throwaway database on the server of ``admin_url``."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"reaper_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Table:
    """Prints each measurement as soon as it is taken, and all of them at the end.

    A long run that dies late (the shared PostgreSQL refusing connections)
    still leaves the numbers it had.
    """

    HEADER = ("records", "wall s", "records/s", "CPU s", "per CPU-s")
    WIDTH = 40

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def line(self, r: Row) -> str:
        return (
            f"{r.what:<{self.WIDTH}}  {r.n:>10,}  {r.seconds:>10.2f}  {r.rate:>10,.0f}  "
            f"{r.cpu:>10.2f}  {r.cpu_rate:>10,.0f}"
        )

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print("  " + self.line(row), flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print("  " + text, flush=True)

    def print(self) -> None:
        print()
        print(f"{'measurement':<{self.WIDTH}}  " + "  ".join(f"{h:>10}" for h in self.HEADER))
        print(f"{'-' * self.WIDTH}  " + "  ".join("-" * 10 for _ in self.HEADER))
        for r in self.rows:
            print(self.line(r))
        print()
        for note in self.notes:
            print(note)


def run_appends(label: str, url: str, args: argparse.Namespace, table: Table) -> None:
    with Store.open(url) as store:
        single = f"append, single ({label})"
        table.add(timed(single, args.single, lambda: bench_single(store, args.single)))
        batched = f"append, batches of {args.batch_size} ({label})"
        table.add(
            timed(
                batched, args.batched, lambda: bench_batched(store, args.batched, args.batch_size)
            )
        )


def run_verify(label: str, store: Store, n: int, args: argparse.Namespace, table: Table) -> None:
    for workers in (0, args.workers):
        what = f"verify ({label}, {workers or 'no'} workers)"
        run = bench_verify(store, n, workers)
        table.add(Row(what, n, run.seconds, run.cpu))
        table.note(describe(what, run))


def run_postgresql(args: argparse.Namespace, table: Table) -> None:
    try:
        if args.single or args.batched:
            with postgresql(args.pg_url) as url:
                run_appends("postgresql", url, args, table)
        if args.pg_records:
            print(f"populating a {args.pg_records:,}-record PostgreSQL trail ...", flush=True)
            with postgresql(args.pg_url) as url, Store.open(url) as store:
                populate(store, args.pg_records, progress=False)
                run_verify("postgresql", store, args.pg_records, args, table)
    except (StoreError, OperationalError) as exc:
        table.note(f"PostgreSQL part stopped: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit_bench", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000, help="trail length to verify")
    parser.add_argument("--single", type=int, default=3000, help="single appends to time")
    parser.add_argument("--batched", type=int, default=50_000, help="batched appends to time")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--pg-records", type=int, default=200_000, help="trail length on PG")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "REAPER_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1/postgres"
        ),
        help="PostgreSQL server (a database on it is created and dropped)",
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--workers",
        type=int,
        default=max(2, min(os.cpu_count() or 1, 4)),
        help="worker processes for the parallel verify run",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also measure the Python heap peak verifying 20%% and 100%% (slow)",
    )
    parser.add_argument(
        "--workdir",
        help="where the SQLite files go, kept afterwards: a second run reuses the "
        "populated trail (default: a temp dir, removed)",
    )
    args = parser.parse_args(argv)

    workdir = args.workdir or tempfile.mkdtemp(prefix="reaper-bench-")
    table = Table()
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        if args.single or args.batched:
            run_appends("sqlite", f"sqlite:///{workdir}/append.sqlite", args, table)
        with Store.open(f"sqlite:///{workdir}/verify.sqlite") as store:
            have = AuditRepository(store.db).head().seq
            if have and have != args.records:
                raise SystemExit(
                    f"{workdir}/verify.sqlite holds {have:,} records, not {args.records:,}"
                )
            if not have:
                print(f"populating a {args.records:,}-record SQLite trail ...", flush=True)
                fill = "populate (sqlite, batches of 5000)"
                table.add(timed(fill, args.records, lambda: populate(store, args.records)))
            run_verify("sqlite", store, args.records, args, table)
            if args.tracemalloc:
                fifth = traced_peak(store, args.records // 5)
                full = traced_peak(store, args.records)
                table.note(
                    f"verify (sqlite) Python heap peak: {fifth / MIB:.1f} MiB for "
                    f"{args.records // 5:,} records, {full / MIB:.1f} MiB for {args.records:,}"
                )
        if not args.no_pg:
            run_postgresql(args, table)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    table.print()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
