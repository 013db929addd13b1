"""B3, the store at scale on PostgreSQL: appends by writers, verify, bytes per resource, claims.

Run ``python -m benchmarks store`` (``--help`` for sizes; ``--records
10000000 --tombstones 1000000`` is the issue's full size, hours of filling).
On a throwaway PostgreSQL database it measures, in one run, each figure
beside its target:

* **appends by writers**: 1, 4 and 8 processes appending one record per
  transaction (as a controller records each step), against the same
  processes inserting the same payload into a plain table with no chain:
  the ratio should be >= 0.5 and the chain's rate should rise with writers.
  Each is measured twice in the same run: in one chain (``[audit] streams =
  1``, every append waits for the one head row: the baseline) and in
  ``--streams`` streams (8, as a fleet of 8 controllers would set);
* **full verify** of ``--records`` records: seconds (scaled to 10M: <= 5
  min) and peak resident memory of this process and its workers (<= 100 MiB);
* **incremental verify**: the records appended after the full run, from
  the last checkpoint on: its time should follow their number, not the trail's;
* **bytes per cleaned resource**: the audit rows (and the plan) that one
  realistic server costs through the real recording path (plan record,
  step start, step outcome): <= 6 KiB;
* **claim_next** latency (p50/p99) with ``--tombstones`` finished tombstones
  in the table.

The machine is shared: the load average is printed beside the figures.

Figures (2026-12-07 13:32, ``--appends 2000``, defaults otherwise, the heavy
lock held, load 2.4-2.6, 2 cores), each beside its baseline of the same run:

* appends, 8 streams against plain inserts: 1 writer 470/s vs 770/s (0.61x),
  4 writers 1,133/s vs 2,051/s (0.55x), 8 writers 964/s vs 1,757/s (0.55x);
  one chain (the baseline before streams) 0.50x, 0.25x, 0.26x. Met from 1 to
  4 writers; from 4 to 8 the plain inserts fall too: two cores are the limit;
* full verify of 200,000 records 4.3 s (46k/s, 3.6 min at 10M: <= 5 min met),
  this process +3 MiB, largest worker 87 MiB (<= 100 MiB met); incremental
  verify of 10,000 new records 0.24 s (proportional: met);
* 5.68 KiB per cleaned resource (<= 6 KiB met);
* claim_next with 100,000 finished tombstones: p50 3.7 ms, p99 8.4 ms; with
  1,000,000 (``--only claims --tombstones 1000000``, 13:38, load 1.5): p50
  4.4 ms, p99 10.1 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, insert, text

from benchmarks import store_bytes
from benchmarks.audit_bench import RssSampler, make_trail, populate, postgresql, realistic
from reaper.audit.parallel import verify_store
from reaper.audit.repository import AuditRepository
from reaper.model import IdentityKind, IdentityRef, Trigger, TriggerSource, utcnow
from reaper.store import Store, schema

MIB = 1024 * 1024
#: ``[audit] streams`` for the streamed appends: what a fleet of 8 controllers sets
#: (the option's default, 1, is the one chain measured beside it).
STREAMS_DEFAULT = 8
WRITERS = (1, 4, 8)


# -- appends by writers ---------------------------------------------------------


def _writer(
    url: str, kind: str, streams: int, first: int, n: int, ready: Any, go: Any, out: Any
) -> None:
    """One writer process: builds its payloads, waits for the start, then writes them."""
    with Store.open(url) as store:
        trail = make_trail(store, streams)
        drafts = [realistic(trail, first + i) for i in range(n)]
        engine = create_engine(url, pool_size=1)
        rows = []
        for d in drafts:
            index = d.index
            rows.append(
                {
                    "body": d.body(0),
                    "recorded_at": utcnow(),
                    "action": index.action,
                    "outcome": index.outcome,
                    "target_type": index.target_type,
                    "target_id": index.target_id,
                    "tombstone_id": index.tombstone_id,
                    "plan_hash": index.plan_hash,
                    "record_hash": "0" * 64,
                    "prev_head": "0" * 64,
                    "head": "0" * 64,
                }
            )
        ready.wait()
        go.wait()
        started = time.perf_counter()
        if kind == "chain":
            for d in drafts:
                trail.append_many([d])
        else:
            with engine.connect() as conn:
                for row in rows:
                    conn.execute(text(_PLAIN_INSERT), row)
                    conn.commit()
        out.put(time.perf_counter() - started)
        engine.dispose()


_PLAIN_INSERT = (
    "INSERT INTO bench_plain (recorded_at, action, outcome, target_type, target_id, "
    "tombstone_id, plan_hash, body, record_hash, prev_head, head) VALUES (:recorded_at, "
    ":action, :outcome, :target_type, :target_id, :tombstone_id, :plan_hash, :body, "
    ":record_hash, :prev_head, :head)"
)

_PLAIN_TABLE = """
CREATE TABLE IF NOT EXISTS bench_plain (
    seq BIGSERIAL PRIMARY KEY, recorded_at TIMESTAMP NOT NULL, action VARCHAR(64) NOT NULL,
    outcome VARCHAR(16) NOT NULL, target_type VARCHAR(64), target_id VARCHAR(255),
    tombstone_id VARCHAR(36), plan_hash VARCHAR(64), body TEXT NOT NULL,
    record_hash VARCHAR(64) NOT NULL, prev_head VARCHAR(64) NOT NULL, head VARCHAR(64) NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_bench_plain_recorded_at ON bench_plain (recorded_at);
CREATE INDEX IF NOT EXISTS ix_bench_plain_target_id ON bench_plain (target_id);
CREATE INDEX IF NOT EXISTS ix_bench_plain_tombstone_id ON bench_plain (tombstone_id)
"""


def appends(url: str, kind: str, writers: int, total: int, streams: int = 1) -> float:
    """Records per second that ``writers`` processes reach together, one per transaction."""
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Barrier(writers + 1), ctx.Event()
    out: Any = ctx.Queue()
    each = total // writers
    procs = [
        ctx.Process(target=_writer, args=(url, kind, streams, w * each, each, ready, go, out))
        for w in range(writers)
    ]
    for p in procs:
        p.start()
    ready.wait()
    started = time.perf_counter()
    go.set()
    for _ in procs:
        out.get()
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return each * writers / elapsed


def thread_appends(url: str, writers: int, total: int) -> tuple[float, float]:
    """Records per second of ``writers`` threads of one process (a controller's workers).

    Their appends meet in the trail's group commit; also returns the requests
    written per transaction.
    """
    with Store.open(url) as store:
        trail = make_trail(store)
        each = total // writers
        drafts = [[realistic(trail, w * each + i) for i in range(each)] for w in range(writers)]
        start = threading.Barrier(writers + 1)

        def write(mine: list[Any]) -> None:
            start.wait()
            for d in mine:
                trail.append_many([d])

        threads = [threading.Thread(target=write, args=(d,)) for d in drafts]
        for t in threads:
            t.start()
        start.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    return each * writers / elapsed, trail.group.requests / max(trail.group.groups, 1)


def run_appends(url: str, total: int, streams: int) -> list[str]:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in _PLAIN_TABLE.split(";"):
            conn.execute(text(statement))
    engine.dispose()
    lines, previous = [], 0.0
    for writers in WRITERS:
        one = appends(url, "chain", writers, total, 1)
        chain = appends(url, "chain", writers, total, streams)
        plain = appends(url, "plain", writers, total)
        rising = "" if not previous else (" rising" if chain > previous * 1.1 else " FLAT")
        previous = chain
        lines.append(
            f"appends, {writers} writer process(es): {streams} streams {chain:,.0f}/s, "
            f"plain inserts {plain:,.0f}/s, ratio {chain / plain:.2f} (target >= 0.5 and "
            f"rising with writers){rising}; one chain (before) {one:,.0f}/s, "
            f"ratio {one / plain:.2f}"
        )
    for writers in WRITERS:
        rate, per = thread_appends(url, writers, total)
        lines.append(
            f"appends, {writers} thread(s) of one process: chain {rate:,.0f}/s, "
            f"{per:.1f} appends per transaction (group commit)"
        )
    return lines


# -- verify ------------------------------------------------------------------------


def run_verify(url: str, records: int, extra: int) -> list[str]:
    with Store.open(url) as store:
        have = AuditRepository(store.db).head().seq
        populate(store, records - have, progress=records >= 1_000_000)
        audit = AuditRepository(store.db)
        with RssSampler() as sampler:
            started = time.perf_counter()
            report = verify_store(audit)
            full = time.perf_counter() - started
        growth, worker = (sampler.peak - sampler.baseline) / MIB, sampler.worker_peak / MIB
        head = audit.head().seq
        populate(store, extra, progress=False)
        started = time.perf_counter()
        tail = verify_store(audit, from_seq=head + 1)
        incremental = time.perf_counter() - started
    scaled = full / records * 10_000_000
    return [
        f"full verify, {records:,} records: {full:.1f}s ({records / full:,.0f}/s; at 10M "
        f"{scaled / 60:.1f} min, target <= 5 min), memory: this process grew {growth:.0f} MiB, "
        f"largest worker {worker:.0f} MiB resident (target <= 100 MiB), "
        f"{'OK' if report.ok else 'FAILED'}",
        f"incremental verify, {extra:,} new records: {incremental:.2f}s "
        f"({extra / incremental:,.0f}/s, full ran {records / full:,.0f}/s: proportional to "
        f"new records when similar), {'OK' if tail.ok else 'FAILED'}",
    ]


# -- claim_next with many finished tombstones ----------------------------------------


def run_claims(url: str, finished: int, claims: int) -> list[str]:
    t = schema.tombstones
    engine = create_engine(url)
    now = utcnow()
    done = 0
    with engine.begin() as conn:
        while done < finished:
            size = min(10_000, finished - done)
            conn.execute(
                insert(t),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "kind": "project",
                        "identity_id": uuid.uuid4().hex,
                        "state": "complete",
                        "reason": "done",
                        "attempts": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for _ in range(size)
                ],
            )
            done += size
        conn.execute(text("ANALYZE tombstones"))
    engine.dispose()
    latencies = []
    with Store.open(url) as store:
        for i in range(claims):
            ref = IdentityRef(IdentityKind.PROJECT, f"{i:032x}")
            store.tombstones.record_trigger(ref, Trigger(TriggerSource.CLI))
            started = time.perf_counter()
            claimed = store.tombstones.claim_next("bench-owner")
            latencies.append(time.perf_counter() - started)
            assert claimed is not None
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return [
        f"claim_next with {finished:,} finished tombstones: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"over {claims} claims (target: independent of the finished count)"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_bench", description=__doc__)
    parser.add_argument("--appends", type=int, default=4000, help="appends per writer count")
    parser.add_argument("--records", type=int, default=200_000, help="trail length to verify")
    parser.add_argument("--extra", type=int, default=10_000, help="records for incremental")
    parser.add_argument("--resources", type=int, default=200, help="cleaned resources to size")
    parser.add_argument("--tombstones", type=int, default=100_000, help="finished tombstones")
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument(
        "--streams",
        type=int,
        default=STREAMS_DEFAULT,
        help="[audit] streams for the streamed appends (8: a fleet of 8 controllers)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "REAPER_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1/postgres"
        ),
        help="PostgreSQL server (databases on it are created and dropped)",
    )
    parser.add_argument("--only", choices=("appends", "verify", "bytes", "claims"), action="append")
    args = parser.parse_args(argv)
    parts = args.only or ["appends", "verify", "bytes", "claims"]
    lines = [f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"]
    print(lines[0], flush=True)
    runs = {
        "appends": lambda url: run_appends(url, args.appends, args.streams),
        "verify": lambda url: run_verify(url, args.records, args.extra),
        "bytes": lambda url: store_bytes.run(url, args.resources),
        "claims": lambda url: run_claims(url, args.tombstones, args.claims),
    }
    for part in parts:
        with postgresql(args.pg_url) as url:
            Store.open(url).close()
            for line in runs[part](url):
                print(line, flush=True)
                lines.append(line)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("\nB3 summary:\n  " + "\n  ".join(lines[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
