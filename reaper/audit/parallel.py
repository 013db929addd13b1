"""Verifying a stored trail: the I/O side of :mod:`reaper.audit.verify`.

:func:`verify_store` reads the chain head, the records and the checkpoints
from the database and hands them to the pure
:class:`~reaper.audit.verify.Verifier`; for long trails it spreads the
reading and hashing over worker processes.

Hashing and parsing a record costs several times more than judging its
place in the chain, and both SQLite and PostgreSQL serve several readers
at once: so worker processes each read a range of seqs from the database
and :func:`~reaper.audit.verify.inspect` its records, and the calling
process judges the results in order with the same
:class:`~reaper.audit.verify.Verifier` as ever (links, gaps, checkpoints).

Rows are read with :meth:`AuditRepository.scan` (the driver's cursor, the
time as text from SQL, no sort on the server) and inspected with
:func:`~reaper.audit.chainwalk.inspect_row`: building a SQLAlchemy row and a
datetime per record cost more than hashing it. Memory stays flat: at most
two ranges per worker are in flight, and each comes back as small tuples,
not record bodies. Workers are spawned, not
forked, so no pooled database connection of the caller leaks into them.
"""

from __future__ import annotations

import collections
import datetime as dt
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reaper.audit.chain import ChainHead
from reaper.audit.checkpoint import Archived, Checkpoint, CheckpointHead
from reaper.audit.inspection import inspect_row
from reaper.audit.repository import AuditRepository
from reaper.audit.verify import Inspected, ProblemKind, Verifier, VerifyReport
from reaper.store.database import Database
from reaper.store.engine import sqlite_path

#: Below this many records, starting workers costs more than it saves.
MIN_RECORDS = 100_000

_repository: AuditRepository | None = None


def _start_worker(url: str, connect_timeout: int) -> None:
    global _repository
    _repository = AuditRepository(Database(url, connect_timeout=connect_timeout))


def _inspect_range(first: int, last: int) -> list[tuple[Any, ...]]:
    """Records ``first``..``last`` inspected, sent back field by field.

    One list per field of :class:`Inspected` (the caller rebuilds the
    records with :func:`_rebuild`): pickling a column of strings costs a
    fraction of pickling as many named tuples, which cost as much as the
    hashing once both sides' work was counted.
    """
    assert _repository is not None, "worker not initialised"
    found = [inspect_row(row) for row in _repository.scan(first, last)]
    return list(zip(*found, strict=True))


def _rebuild(columns: list[tuple[Any, ...]]) -> Iterator[Inspected]:
    """The records :func:`_inspect_range` sent, in order."""
    return map(Inspected, *columns) if columns else iter(())


def scanned(audit: _AuditSource, first: int, last: int, chunk: int) -> Iterator[Inspected]:
    """Records ``first``..``last`` inspected in this process, ``chunk`` seqs at a time."""
    for lo in range(first, last + 1, chunk):
        rows = audit.scan(lo, min(lo + chunk - 1, last))
        for row in rows:
            yield inspect_row(row)
        del rows


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
        window: collections.deque[Future[list[tuple[Any, ...]]]] = collections.deque()
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
                yield from _rebuild(batch)
        finally:
            for future in window:
                future.cancel()


class _AuditSource(Protocol):
    """What :func:`verify_store` reads: the store's audit repository."""

    @property
    def url(self) -> str: ...

    @property
    def connect_timeout(self) -> int: ...

    def max_seq(self) -> int: ...

    def heads(self) -> tuple[ChainHead, CheckpointHead]: ...

    def archived(self) -> Archived: ...

    def scan(self, first: int, last: int) -> list[tuple[Any, ...]]: ...

    def checkpoints(
        self,
        *,
        min_seq: int | None = None,
        max_seq: int | None = None,
        max_number: int | None = None,
        min_number: int | None = None,
        chunk: int = ...,
    ) -> Iterator[Checkpoint]: ...


def _appended_meanwhile(audit: _AuditSource, verifier: Verifier) -> None:
    """Records left out as appended after the heads were read: the heads now account for them."""
    now = {s.stream: s.pos for s in audit.heads()[0].streams}
    for stream, pos in sorted(verifier.walk.skipped.items()):
        if now.get(stream, 0) < pos:
            verifier.problem(
                ProblemKind.CHAIN_HEAD,
                f"stream {stream} has records up to position {pos}, beyond its head "
                f"(position {now.get(stream, 0)}): they were added without going through reaper",
            )


def verify_store(
    audit: _AuditSource,
    *,
    public_key: Ed25519PublicKey | None = None,
    require_signed: bool = False,
    from_seq: int = 1,
    to_seq: int | None = None,
    checkpoint_interval: float | None = None,
    now: dt.datetime | None = None,
    chunk: int = 5000,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the stored trail (an :class:`AuditRepository`) between ``from_seq`` and ``to_seq``.

    The head is read first: records appended while verification runs are
    left for the next run, and everything up to that head must be there.
    ``workers`` processes hash and parse records in parallel (see
    :func:`inspected`); ``None`` picks a number for the trail's
    length and this machine, 0 verifies in this process only.

    A pruned trail (``reaper audit archive``) is verified from the signed
    checkpoint it starts at, whatever earlier ``from_seq`` is asked for: the
    records before it are in the archive bundles, which verify on their own.

    A trail written in streams is judged against each stream's head as read
    first: records appended meanwhile (in any stream, possibly with a lower
    seq than others already read) are left for the next run, once a second
    reading of the heads accounts for them. Verifying it from ``from_seq``
    starts from the checkpoint at ``from_seq - 1`` when there is one (each
    stream's head signed there), so an incremental verify after the last
    checkpoint costs what was appended since.
    """
    head, cp_head = audit.heads()
    archived = audit.archived()
    anchor: Checkpoint | None = None
    anchor_problem: str | None = None
    if archived.seq and from_seq <= archived.seq + 1:
        from_seq = archived.seq + 1
        number = archived.checkpoint
        anchor = next(audit.checkpoints(min_number=number, max_number=number), None)
        if anchor is None or anchor.seq != archived.seq:
            anchor_problem = (
                f"the trail was archived up to seq {archived.seq}, but checkpoint "
                f"#{archived.checkpoint} that vouches for it is missing or moved: "
                "the head before the first record is taken on trust"
            )
            anchor = None
    if anchor is None and anchor_problem is None and from_seq > 1 and head.streams:
        before = from_seq - 1
        anchor = next(audit.checkpoints(min_seq=before, max_seq=before), None)
    end = head.seq if to_seq is None else min(to_seq, head.seq)
    full = end == head.seq
    verifier = Verifier(
        public_key=public_key,
        require_signed=require_signed,
        checkpoint_interval=checkpoint_interval,
        now=now,
    )
    if head.streams:
        verifier.walk.limits = {s.stream: s for s in head.streams}
    if workers is None:
        workers = default_workers(audit.url, end - from_seq + 1)
    records: Iterable[Inspected]
    if workers > 0 and end >= from_seq:
        records = inspected(
            audit.url,
            from_seq,
            end,
            workers=workers,
            chunk=chunk,
            connect_timeout=audit.connect_timeout,
        )
    else:
        records = scanned(audit, from_seq, end, chunk)
    checkpoints = audit.checkpoints(
        min_seq=from_seq if from_seq > 1 and anchor is None else None,
        min_number=anchor.number if anchor is not None else None,
        max_seq=None if full else end,
        max_number=cp_head.number,
    )
    report = verifier.run(
        records,
        checkpoints,
        start_seq=from_seq,
        end_seq=None if full else end,
        chain_head=head if full else None,
        checkpoint_head=cp_head if full and (from_seq == 1 or anchor is not None) else None,
        anchor=anchor,
    )
    if anchor_problem is not None:
        verifier.problem(ProblemKind.CHECKPOINT_CHAIN, anchor_problem, seq=from_seq)
    if verifier.walk.skipped:
        _appended_meanwhile(audit, verifier)
    if full:
        # Rows beyond the head were not read; any that a later head does not
        # account for were written without the chain lock. (The last row is
        # read before the head, so a concurrent append is never mistaken.)
        beyond = audit.max_seq()
        if beyond > audit.heads()[0].seq:
            verifier.problem(
                ProblemKind.CHAIN_HEAD,
                f"records up to seq {beyond} exist beyond the chain head: they were added "
                "without going through reaper",
                seq=head.seq + 1,
            )
    return report
