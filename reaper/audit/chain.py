"""The hash chain: how each record's head is derived from the one before.

``record_hash = SHA-256(body)`` over the record's canonical JSON bytes and
``head = SHA-256(prev_head || record_hash)`` over the 64 raw bytes of the two
digests; the first record's ``prev_head`` is :data:`GENESIS`. Changing,
removing, inserting or reordering any record changes every head after it, so
one trusted head (a signed checkpoint) vouches for the whole prefix. An
independent verifier needs only this::

    head = hashlib.sha256(bytes.fromhex(prev_head) + hashlib.sha256(body).digest())

Streams: a store written by several processes at once (``[audit] streams``)
keeps K such chains side by side, each with its own head row, so appends
in different streams do not wait for each other. Stream 1 starts at
:data:`GENESIS` (a trail written before streams existed is stream 1 alone);
stream ``s`` > 1 starts at :func:`genesis`, ``SHA-256("reaper-audit-stream/s")``,
so a record cannot be moved to another stream without breaking both chains.
``seq`` stays one number line for the whole trail (for reading and paging,
and named in each body) but has gaps where an append rolled back; a record's
``pos`` (its place in its stream) is what has none. A signed checkpoint
names every stream's position and head (:class:`StreamHead`), which merges
the streams into one verifiable state.

Pure functions and values; the store calls :func:`seal` under its lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from reaper.audit.columns import RecordIndex

GENESIS = "0" * 64


#: The stream a trail written as one chain is (and the one a store without streams writes).
FIRST_STREAM = 1


def genesis(stream: int) -> str:
    """The head before the first record of ``stream``."""
    if stream == FIRST_STREAM:
        return GENESIS
    return hashlib.sha256(f"reaper-audit-stream/{stream}".encode()).hexdigest()


class StreamHead(NamedTuple):
    """Where one stream ends: its last record's position, seq and head."""

    stream: int
    pos: int
    seq: int
    head: str


@dataclass(frozen=True)
class ChainHead:
    """The position of the last record: ``seq`` 0 and :data:`GENESIS` when empty.

    ``streams`` is empty for a trail that is one chain (stream 1, every
    position its seq): then ``seq``/``head`` are its last record's. Otherwise
    it holds every stream that has records, ``seq`` is the highest of theirs
    and ``head`` is :func:`merged_head` of them.
    """

    seq: int = 0
    head: str = GENESIS
    streams: tuple[StreamHead, ...] = ()


def merged_head(streams: Sequence[StreamHead]) -> str:
    """One digest for the heads of several streams: SHA-256 of ``stream:pos:seq:head`` lines."""
    text = "".join(f"{s.stream}:{s.pos}:{s.seq}:{s.head}\n" for s in sorted(streams))
    return hashlib.sha256(text.encode()).hexdigest()


def trail_head(rows: Iterable[StreamHead]) -> ChainHead:
    """The trail's head from its streams' head rows (streams without records are left out)."""
    used = tuple(sorted(r for r in rows if r.pos > 0))
    if not used:
        return ChainHead()
    if len(used) == 1 and used[0].stream == FIRST_STREAM and used[0].pos == used[0].seq:
        return ChainHead(used[0].seq, used[0].head)
    return ChainHead(max(s.seq for s in used), merged_head(used), used)


class ChainRecord(NamedTuple):
    """One record as stored: its position, exact body and the chain's digests.

    ``columns`` holds the query columns the store keeps beside the body; it
    is ``None`` where there are none (an exported bundle). A named tuple, not a
    dataclass: verification builds a million of these, and a tuple is made
    several times faster (use ``_replace`` to derive one).
    """

    seq: int
    body: str
    record_hash: str
    prev_head: str
    head: str
    columns: RecordIndex | None = None
    #: The stream and the position in it; ``None`` for a record of a trail that
    #: is one chain (stream 1, at position ``seq``), as records were before streams.
    stream: int | None = None
    pos: int | None = None


class Sealable(Protocol):
    """Anything that can become a record once its position is known."""

    @property
    def index(self) -> RecordIndex: ...

    def body(self, seq: int) -> str: ...


def record_hash(body: str | bytes) -> str:
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def next_head(prev_head: str, rec_hash: str) -> str:
    return hashlib.sha256(bytes.fromhex(prev_head) + bytes.fromhex(rec_hash)).hexdigest()


def seal(head: ChainHead, drafts: Iterable[Sealable]) -> list[ChainRecord]:
    """Place ``drafts`` after ``head``, in order: the records to insert."""
    out: list[ChainRecord] = []
    seq, prev = head.seq, head.head
    for draft in drafts:
        seq += 1
        body = draft.body(seq)
        rh = record_hash(body)
        new = next_head(prev, rh)
        out.append(ChainRecord(seq, body, rh, prev, new, draft.index))
        prev = new
    return out


def seal_stream(
    stream: StreamHead, seqs: Sequence[int], drafts: Sequence[Sealable]
) -> list[ChainRecord]:
    """Place ``drafts`` at the end of ``stream``, at ``seqs`` (ascending): the records to insert.

    A record of stream 1 whose position is its seq is written as a record of
    one chain would be (no stream, no position), so a store with streams
    that one process writes at a time keeps writing exactly what it did.
    """
    out: list[ChainRecord] = []
    pos, prev = stream.pos, stream.head
    for seq, draft in zip(seqs, drafts, strict=True):
        pos += 1
        body = draft.body(seq)
        rh = record_hash(body)
        new = next_head(prev, rh)
        plain = stream.stream == FIRST_STREAM and pos == seq
        at = (None, None) if plain else (stream.stream, pos)
        out.append(ChainRecord(seq, body, rh, prev, new, draft.index, *at))
        prev = new
    return out


def tip(head: ChainHead, sealed: Sequence[ChainRecord]) -> ChainHead:
    """The chain head after ``sealed`` was appended at ``head``."""
    if not sealed:
        return head
    return ChainHead(sealed[-1].seq, sealed[-1].head)
