"""What verify checks of each record alone, and how it reads the records fast.

:func:`scan` reads a range of records as plain rows; :func:`inspect_row`
(or :func:`inspect` for a :class:`ChainRecord`) checks what needs only the
record: its hash, its head, the seq it names and its query columns. Worker
processes do this part (``parallel.py``); :mod:`reaper.audit.chainwalk` then
judges each record's place in its stream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from reaper.audit.chain import FIRST_STREAM, ChainRecord
from reaper.audit.columns import RecordIndex, index_of
from reaper.store.database import Database

#: ``recorded_at`` as CADF text up to the zone (``YYYY-MM-DDTHH:MM:SS.ffffff``), per
#: dialect: verification reads every row, and a datetime built by the driver and
#: formatted again cost more than the hashing.
_CADF_AT = {
    "postgresql": "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
    "mysql": "DATE_FORMAT(recorded_at, '%Y-%m-%dT%H:%i:%s.%f')",
    "mariadb": "DATE_FORMAT(recorded_at, '%Y-%m-%dT%H:%i:%s.%f')",
    "sqlite": "replace(substr(recorded_at, 1, 26), ' ', 'T')",
}

_SCAN = (
    "SELECT seq, body, record_hash, prev_head, head, {at}, action, outcome, target_type, "
    "target_id, tombstone_id, plan_hash, stream, pos FROM audit_records "
    "WHERE seq >= {first} AND seq <= {last}"
)


def scan(db: Database, first: int, last: int) -> list[tuple[Any, ...]]:
    """Records ``first``..``last`` as plain rows, in seq order: what verify reads.

    Each row is ``(seq, body, record_hash, prev_head, head, recorded_at,
    action, outcome, target_type, target_id, tombstone_id, plan_hash)``
    with ``recorded_at`` in CADF's form up to the zone (see
    :func:`reaper.audit.chainwalk.inspect_row`). The rows come from the
    driver's cursor, not SQLAlchemy's: at 10M records every microsecond per
    row is a second of verify. A bounded range without ``ORDER BY`` or
    ``LIMIT``, sorted here: PostgreSQL then never sorts (a sort that a
    stale plan spilled to disk cost more than the reading).
    """
    sql = _SCAN.format(at=_CADF_AT[db.dialect], first=int(first), last=int(last))
    with db.read("read audit records") as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql)
            rows = list(cursor.fetchall())
        finally:
            cursor.close()
    rows.sort(key=_first)
    return rows


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def _loads(text: str | bytes) -> Any:
    """Parse a record: orjson is three times faster than json, which dominates verify.

    orjson is stricter (integers beyond 64 bits, lone surrogates): anything it
    refuses goes through the standard parser, so the verdict never depends on
    which one read the record.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class Inspected(NamedTuple):
    """What one record says about itself, before its place in the chain is judged.

    Everything that needs only the record (hashing, parsing, comparing the
    query columns) is here, so it can be computed in worker processes; the
    verifier then judges order and links, which need the records in turn.
    """

    seq: int
    prev_head: str
    head: str
    #: SHA-256 of the body matches the stored record_hash.
    hash_ok: bool
    #: The stored head is SHA-256(stored prev_head || SHA-256(body)).
    head_ok: bool
    #: The seq the body itself names (``None`` when it names none).
    body_seq: Any
    malformed: bool
    #: What differs between the query columns and the body; ``None`` if nothing.
    index_diff: str | None
    #: The record's stream and position in it (stream 1 at ``seq`` for one chain).
    stream: int = FIRST_STREAM
    pos: int = 0


def inspect(rec: ChainRecord) -> Inspected:
    """Check what can be checked of ``rec`` alone."""
    seq, text, stored_hash, prev_head, head, index, stream, pos = rec
    return _inspect(seq, text, stored_hash, prev_head, head, index, stream, pos)


def inspect_row(row: Sequence[Any]) -> Inspected:
    """:func:`inspect` of a row as :meth:`AuditRepository.scan` reads it (verify's fast path).

    ``recorded_at`` comes as CADF text up to the zone; the other columns as stored.
    """
    seq, text, stored_hash, prev_head, head, at, *columns, stream, pos = row
    index = (f"{at}+0000", *columns)
    return _inspect(seq, text, stored_hash, prev_head, head, index, stream, pos)


def _inspect(
    seq: int,
    text: str,
    stored_hash: str,
    prev_head: str,
    head: str,
    index: tuple[Any, ...] | None,
    stream: int | None,
    pos: int | None,
) -> Inspected:
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).digest()
    rh = digest.hex()
    try:
        body = _loads(data)
        body_seq = body["reaper"]["seq"]
    except (ValueError, TypeError, KeyError):
        body, body_seq = None, None
    try:
        head_ok = hashlib.sha256(bytes.fromhex(prev_head) + digest).hexdigest() == head
    except (ValueError, TypeError):
        head_ok = False
    index_diff = None
    if index is not None and body is not None:
        try:
            actual = index_of(body)
        except (AttributeError, TypeError):
            index_diff = "the record has no readable fields"
        else:
            if actual != index:
                index_diff = _index_diff(RecordIndex(*index), actual)
    if stream is None:
        stream, pos = FIRST_STREAM, seq
    return Inspected(
        seq,
        prev_head,
        head,
        rh == stored_hash,
        head_ok,
        body_seq,
        body is None,
        index_diff,
        stream,
        seq if pos is None else pos,
    )


def _index_diff(stored: RecordIndex, actual: RecordIndex) -> str:
    return "; ".join(
        f"{name}: column {column!r}, record {value!r}"
        for name, column, value in zip(RecordIndex._fields, stored, actual, strict=True)
        if column != value
    )
