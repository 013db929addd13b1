"""Concurrent appenders, threads or processes, never fork the chain."""

from __future__ import annotations

import collections
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reaper.audit.parallel import verify_store
from reaper.audit.record import Actor, AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.store import Store

pytestmark = pytest.mark.functional

APPENDER = Path(__file__).with_name("audit_appender.py")
ROOT = Path(__file__).resolve().parents[2]


def assert_one_linear_chain(store: Store, expected: int) -> list[str]:
    """Every seq once, each record linked to the one before, verify clean; the targets."""
    records = list(AuditRepository(store.db).records())
    assert [r.seq for r in records] == list(range(1, expected + 1))
    for before, after in itertools.pairwise(records):
        assert after.prev_head == before.head
    report = verify_store(AuditRepository(store.db))
    assert report.ok, report.problems
    return [json.loads(r.body)["target"]["id"] for r in records]


def test_threads_appending_at_once_make_one_chain(store: Store) -> None:
    trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
    threads_n, each = 8, 40
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            start.wait()
            i = 0
            while i < each:
                if i % 5 == 0:
                    with trail.batch() as batch:
                        for _ in range(4):
                            batch.append(
                                action="delete",
                                outcome="success",
                                target=AuditTarget("x.y", f"{name}-{i}"),
                            )
                            i += 1
                else:
                    trail.append(
                        action="delete", outcome="success", target=AuditTarget("x.y", f"{name}-{i}")
                    )
                    i += 1
                if i % 10 == 0:
                    trail.checkpoint()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert errors == []
    targets = assert_one_linear_chain(store, threads_n * each)
    assert len(set(targets)) == threads_n * each
    # Each thread's records appear in the order it appended them.
    by_worker = collections.defaultdict(list)
    for target in targets:
        name, i = target.split("-")
        by_worker[name].append(int(i))
    assert all(seq == sorted(seq) for seq in by_worker.values())


def test_processes_appending_at_once_make_one_chain(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    count, procs_n = 120, 3
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(APPENDER), store_url, f"p{n}", str(count), str(go)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(procs_n)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.*.ready"))) < procs_n and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]

    assert [rc for rc, _ in outcomes] == [0] * procs_n, outcomes
    targets = assert_one_linear_chain(store, count * procs_n)
    writers = [t.split("-")[0] for t in targets]
    assert len(set(writers)) == procs_n
    if store.dialect == "postgresql":
        # They really wrote at the same time: the chain interleaves them. (SQLite's
        # lock is not fair, one process may keep it for long runs, so not there.)
        assert sum(a != b for a, b in itertools.pairwise(writers)) > procs_n
    checkpoints = list(AuditRepository(store.db).checkpoints())
    assert [c.number for c in checkpoints] == list(range(1, len(checkpoints) + 1))
    assert len(checkpoints) >= procs_n
