"""The hash chain: how each record's head is derived from the one before.

``record_hash = SHA-256(body)`` over the record's canonical JSON bytes and
``head = SHA-256(prev_head || record_hash)`` over the 64 raw bytes of the two
digests; the first record's ``prev_head`` is :data:`GENESIS`. Changing,
removing, inserting or reordering any record changes every head after it, so
one trusted head (a signed checkpoint) vouches for the whole prefix. An
independent verifier needs only this::

    head = hashlib.sha256(bytes.fromhex(prev_head) + hashlib.sha256(body).digest())

Pure functions and values; the store calls :func:`seal` under its lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from reaper.audit.columns import RecordIndex

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainHead:
    """The position of the last record: ``seq`` 0 and :data:`GENESIS` when empty."""

    seq: int = 0
    head: str = GENESIS


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


def tip(head: ChainHead, sealed: Sequence[ChainRecord]) -> ChainHead:
    """The chain head after ``sealed`` was appended at ``head``."""
    if not sealed:
        return head
    return ChainHead(sealed[-1].seq, sealed[-1].head)
