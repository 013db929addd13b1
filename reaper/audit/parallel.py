"""Verification spread over worker processes, for long trails.

Hashing and parsing a record costs several times more than judging its
place in the chain, and both SQLite and PostgreSQL serve several readers
at once: so worker processes each read a range of seqs from the database
and :func:`~reaper.audit.verify.inspect` its records, and the calling
process judges the results in order with the same
:class:`~reaper.audit.verify.Verifier` as ever (links, gaps, checkpoints).

Memory stays flat: at most two ranges per worker are in flight, and each
comes back as small tuples, not record bodies. Workers are spawned, not
forked, so no pooled database connection of the caller leaks into them.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from reaper.audit.verify import Inspected, inspect
from reaper.store.audit import AuditRepository
from reaper.store.database import Database
from reaper.store.engine import sqlite_path

#: Below this many records, starting workers costs more than it saves.
MIN_RECORDS = 100_000

_repository: AuditRepository | None = None


def _start_worker(url: str, connect_timeout: int) -> None:
    global _repository
    _repository = AuditRepository(Database(url, connect_timeout=connect_timeout))


def _inspect_range(first: int, last: int) -> list[Inspected]:
    assert _repository is not None, "worker not initialised"
    return [inspect(rec) for rec in _repository.records(first, last, chunk=last - first + 1)]


def default_workers(url: str, records: int) -> int:
    """How many workers suit this trail here: none for short trails or in-memory SQLite."""
    cpus = os.cpu_count() or 1
    if records < MIN_RECORDS or cpus < 2:
        return 0
    if url.startswith("sqlite") and sqlite_path(url) is None:
        return 0
    return min(cpus, 4)


def inspected(
    url: str,
    first: int,
    last: int,
    *,
    workers: int,
    chunk: int = 5000,
    connect_timeout: int = 10,
) -> Iterator[Inspected]:
    """Records ``first``..``last`` of the trail at ``url``, inspected, in seq order."""
    ranges = ((lo, min(lo + chunk - 1, last)) for lo in range(first, last + 1, chunk))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(url, connect_timeout),
    ) as pool:
        window: collections.deque[Future[list[Inspected]]] = collections.deque()
        try:
            for lo, hi in ranges:
                window.append(pool.submit(_inspect_range, lo, hi))
                if len(window) >= 2 * workers:
                    break
            while window:
                batch = window.popleft().result()
                nxt = next(ranges, None)
                if nxt is not None:
                    window.append(pool.submit(_inspect_range, *nxt))
                yield from batch
        finally:
            for future in window:
                future.cancel()
