"""The audit chain's tables: serialized appends, streamed reads.

The repository seals the chain as it appends, so it lives with the chain, one
floor above the store: it uses the store's tables and transactions, the
store knows nothing of it. Writers reach it through
:class:`reaper.audit.trail.AuditTrail` (which owns one); readers that need
no signer (``audit show``, verify, export) open one over ``store.db``.

Appends lock one stream's row of ``audit_chain_head`` (``FOR UPDATE`` on
PostgreSQL and MariaDB; on SQLite the ``BEGIN IMMEDIATE`` write lock), seal
the records after the head they found, insert them and move the head, all
in one transaction (``streams.py`` says which row and which seqs; on
PostgreSQL that is two statements, ``pgappend.py``). Two
appenders in one stream, threads or processes on different hosts, are thus
strictly ordered and no stream can fork; a connection lost midway rolls the
whole batch back, so there is never half a record or a head that points
past the records.

Reads are keyset-paginated by ``seq`` in chunks: verifying a million records
holds one chunk in memory, and works the same on both databases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Text, and_, func, insert, select, true, type_coerce, update
from sqlalchemy.engine import Connection, Row

from reaper.audit import inspection
from reaper.audit.chain import ChainHead, ChainRecord, Sealable
from reaper.audit.checkpoint import Archived, Checkpoint, CheckpointHead
from reaper.audit.columns import RecordIndex, parse_cadf_time
from reaper.audit.pgappend import PgAppender
from reaper.audit.streams import Appender, read_heads
from reaper.store import schema
from reaper.store.bulk import BulkInsert
from reaper.store.database import Database

R = schema.audit_records
C = schema.audit_checkpoints
H = schema.audit_chain_head

DEFAULT_CHUNK = 5000

# Built once: an append is a handful of statements, and building them anew
# each time cost as much as the commit.
_INSERT_RECORDS = BulkInsert(insert(R))

_RECORD_COLUMNS = (
    R.c.seq,
    R.c.body,
    R.c.record_hash,
    R.c.prev_head,
    R.c.head,
    # As text: see _cadf_time.
    type_coerce(R.c.recorded_at, Text()).label("recorded_at"),
    R.c.action,
    R.c.outcome,
    R.c.target_type,
    R.c.target_id,
    R.c.tombstone_id,
    R.c.plan_hash,
    R.c.stream,
    R.c.pos,
)


def _cadf_time(value: str | dt.datetime) -> str:
    """A stored ``recorded_at`` in CADF's format, cheaply.

    Verification reads every row, so the column is fetched as text where the
    driver allows (SQLite stores ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC) and
    sliced; psycopg2 always returns a datetime, formatted with isoformat,
    which costs a third of strftime.
    """
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:26]}+0000"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    iso = value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
    return iso[:26] + "+0000"


@functools.lru_cache(maxsize=64)
def _parse_cadf_time(value: str) -> dt.datetime:
    """The inverse of the CADF format, without strptime's cost on every append."""
    if len(value) == 31 and value.endswith("+0000"):
        return dt.datetime.fromisoformat(value[:26]).replace(tzinfo=dt.timezone.utc)
    return parse_cadf_time(value)


def _record(row: Row[Any]) -> ChainRecord:
    (seq, body, rh, prev, head, at, action, outcome, ttype, tid, tomb, plan, stream, pos) = cast(
        "tuple[Any, ...]", row
    )
    index = RecordIndex(_cadf_time(at), action, outcome, ttype, tid, tomb, plan)
    return ChainRecord(seq, body, rh, prev, head, index, stream, pos)


def _row(rec: ChainRecord) -> dict[str, Any]:
    index = rec.columns
    assert index is not None
    return {
        "seq": rec.seq,
        "recorded_at": _parse_cadf_time(index.recorded_at),
        "action": index.action,
        "outcome": index.outcome,
        "target_type": index.target_type,
        "target_id": index.target_id,
        "tombstone_id": index.tombstone_id,
        "plan_hash": index.plan_hash,
        "body": rec.body,
        "record_hash": rec.record_hash,
        "prev_head": rec.prev_head,
        "head": rec.head,
        "stream": rec.stream,
        "pos": rec.pos,
    }


def _checkpoint(row: Row[Any]) -> Checkpoint:
    return Checkpoint(
        number=row.number,
        seq=row.seq,
        head=row.head,
        created_at=row.created_at,
        reason=row.reason,
        tombstone_id=row.tombstone_id,
        key_id=row.key_id,
        body=row.body,
        digest=row.digest,
        signature=row.signature,
    )


def archive_mark(db: Database) -> Archived:
    """Where the stored trail starts: what ``reaper audit archive`` moved to bundles."""
    columns = (H.c.archived_seq, H.c.archived_checkpoint)
    with db.read("read the audit archive mark") as conn:
        row = conn.execute(select(*columns).where(H.c.id == schema.CHAIN_HEAD_ID)).one()
    return Archived(int(row.archived_seq), int(row.archived_checkpoint))


class AuditRepository:
    """The chain's tables; ``streams`` is how many streams appends may use (``streams.py``)."""

    def __init__(self, db: Database, *, streams: int = 1) -> None:
        self._db = db
        self._streams = streams
        self._appender: Appender | None = None  # made on the first append
        #: Appends on PostgreSQL, in two statements (``pgappend.py``).
        self._pg: PgAppender | None = None

    # -- writing ---------------------------------------------------------

    def append(
        self, drafts: Sequence[Sealable], *, conn: Connection | None = None
    ) -> list[ChainRecord]:
        """Append ``drafts`` in order, in one transaction; returns them sealed.

        With ``conn``, the records join that write transaction, which then
        holds the chain head's lock until it commits.
        """
        if not drafts:
            return []
        appender = self._appender = self._appender or Appender(self._db, self._streams)
        with self._db.write_in(conn, "append audit records") as conn:
            if self._db.is_postgresql:
                self._pg = self._pg or PgAppender(appender)
                return self._pg.append(conn, drafts, _row)
            sealed = appender.append(conn, drafts)
            _INSERT_RECORDS.execute(conn, [_row(r) for r in sealed])
        return sealed

    def append_checkpoint(
        self, make: Callable[[ChainHead, CheckpointHead], Checkpoint]
    ) -> Checkpoint:
        """Write the checkpoint ``make`` builds for the current heads, under every stream's lock.

        Locking every stream waits for the appends in flight: the checkpoint
        covers exactly the records up to its ``seq``, in every stream.
        """
        with self._db.write("write an audit checkpoint") as conn:
            head, row = read_heads(conn, lock=True)
            cp = make(head, CheckpointHead(row.checkpoint_number, row.checkpoint_digest))
            conn.execute(insert(C).values(**dataclasses.asdict(cp)))  # fields are columns
            conn.execute(
                update(H)
                .where(H.c.id == schema.CHAIN_HEAD_ID)
                .values(checkpoint_number=cp.number, checkpoint_digest=cp.digest)
            )
        return cp

    # -- reading ---------------------------------------------------------

    def heads(self) -> tuple[ChainHead, CheckpointHead]:
        """The last record's and the last checkpoint's position, read together.

        This is what the head table says; verify checks it against the rows.
        """
        with self._db.read("read the audit chain head") as conn:
            head, row = read_heads(conn)
        return head, CheckpointHead(row.checkpoint_number, row.checkpoint_digest)

    def head(self) -> ChainHead:
        return self.heads()[0]

    def archived(self) -> Archived:
        return archive_mark(self._db)

    def records(
        self, from_seq: int = 1, to_seq: int | None = None, *, chunk: int = DEFAULT_CHUNK
    ) -> Iterator[ChainRecord]:
        """Records with ``from_seq <= seq <= to_seq`` in order, ``chunk`` rows at a time."""
        yield from self._paged(R.c.seq >= from_seq, to_seq, chunk)

    def scan(self, first: int, last: int) -> list[tuple[Any, ...]]:
        """Records ``first``..``last`` as plain rows, in seq order (:func:`inspection.scan`)."""
        return inspection.scan(self._db, first, last)

    def find(
        self,
        *,
        tombstone_id: str | None = None,
        target_id: str | None = None,
        since: dt.datetime | None = None,
        limit: int | None = None,
        chunk: int = DEFAULT_CHUNK,
        newest_first: bool = False,
    ) -> Iterator[ChainRecord]:
        """Records matching every given filter, oldest first (or ``newest_first``)."""
        conditions = []
        if tombstone_id is not None:
            conditions.append(R.c.tombstone_id == tombstone_id)
        if target_id is not None:
            conditions.append(R.c.target_id == target_id)
        if since is not None:
            conditions.append(R.c.recorded_at >= since)
        where = and_(true(), *conditions)
        pages = self._paged_back(where, chunk) if newest_first else self._paged(where, None, chunk)
        for count, rec in enumerate(pages):
            if limit is not None and count >= limit:
                return
            yield rec

    def _paged_back(self, where: Any, chunk: int) -> Iterator[ChainRecord]:
        """Like :meth:`_paged`, from the newest record back (``audit show``)."""
        before: int | None = None
        while True:
            query = select(*_RECORD_COLUMNS).where(where)
            if before is not None:
                query = query.where(R.c.seq < before)
            query = query.order_by(R.c.seq.desc()).limit(chunk)
            with self._db.read("read audit records") as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            before, complete = rows[-1].seq, len(rows) == chunk
            del rows, row
            if not complete:
                return

    def _paged(self, where: Any, to_seq: int | None, chunk: int) -> Iterator[ChainRecord]:
        last = 0
        while True:
            query = select(*_RECORD_COLUMNS).where(where, R.c.seq > last)
            if to_seq is not None:
                query = query.where(R.c.seq <= to_seq)
            query = query.order_by(R.c.seq).limit(chunk)
            with self._db.read("read audit records") as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            last, complete = rows[-1].seq, len(rows) == chunk
            # Let this chunk go before the next is fetched: one chunk in memory, not two.
            del rows, row
            if not complete:
                return

    @property
    def url(self) -> str:
        """The database URL, for worker processes that read the trail in parallel."""
        return self._db.url

    @property
    def connect_timeout(self) -> int:
        return self._db.connect_timeout

    def max_seq(self) -> int:
        """The highest seq of any stored record (0 when none)."""
        with self._db.read("read the last audit seq") as conn:
            return int(conn.execute(select(func.coalesce(func.max(R.c.seq), 0))).scalar_one())

    def count(self) -> int:
        with self._db.read("count audit records") as conn:
            return int(conn.execute(select(func.count()).select_from(R)).scalar_one())

    def checkpoints(
        self,
        *,
        min_seq: int | None = None,
        max_seq: int | None = None,
        max_number: int | None = None,
        min_number: int | None = None,
        chunk: int = 1000,
    ) -> Iterator[Checkpoint]:
        """Checkpoints in the order they were written, optionally within a seq range."""
        last = 0 if min_number is None else min_number - 1
        while True:
            query = select(C).where(C.c.number > last)
            if min_seq is not None:
                query = query.where(C.c.seq >= min_seq)
            if max_seq is not None:
                query = query.where(C.c.seq <= max_seq)
            if max_number is not None:
                query = query.where(C.c.number <= max_number)
            query = query.order_by(C.c.number).limit(chunk)
            with self._db.read("read audit checkpoints") as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield _checkpoint(row)
            last, complete = rows[-1].number, len(rows) == chunk
            del rows, row
            if not complete:
                return

    def latest_checkpoint(self) -> Checkpoint | None:
        with self._db.read("read the latest audit checkpoint") as conn:
            row = conn.execute(select(C).order_by(C.c.number.desc()).limit(1)).first()
        return None if row is None else _checkpoint(row)
