"""The chain walk: each record checked on its own, then for its place in the chain.

:func:`inspect` does what needs only the record (hashing, parsing, comparing
the query columns), so worker processes can do it; :class:`ChainWalk` then
judges order and links, which need the records in turn, and keeps only the
last head. See :mod:`reaper.audit.verify` for the checks and their order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from reaper.audit.chain import GENESIS, ChainHead, ChainRecord
from reaper.audit.columns import RecordIndex, index_of
from reaper.audit.findings import Findings, ProblemKind, short


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


def inspect(rec: ChainRecord) -> Inspected:
    """Check what can be checked of ``rec`` alone."""
    seq, text, stored_hash, prev_head, head, index = rec
    return _inspect(seq, text, stored_hash, prev_head, head, index)


def inspect_row(row: Sequence[Any]) -> Inspected:
    """:func:`inspect` of a row as :meth:`AuditRepository.scan` reads it (verify's fast path).

    ``recorded_at`` comes as CADF text up to the zone; the other columns as stored.
    """
    seq, text, stored_hash, prev_head, head, at, *columns = row
    return _inspect(seq, text, stored_hash, prev_head, head, (f"{at}+0000", *columns))


def _inspect(
    seq: int,
    text: str,
    stored_hash: str,
    prev_head: str,
    head: str,
    index: tuple[Any, ...] | None,
) -> Inspected:
    data = text.encode("utf-8")
    rh = hashlib.sha256(data).hexdigest()
    try:
        body = _loads(data)
        body_seq = body["reaper"]["seq"]
    except (ValueError, TypeError, KeyError):
        body, body_seq = None, None
    try:
        head_ok = hashlib.sha256(bytes.fromhex(prev_head) + bytes.fromhex(rh)).hexdigest() == head
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
    return Inspected(
        seq, prev_head, head, rh == stored_hash, head_ok, body_seq, body is None, index_diff
    )


class ChainWalk:
    """Records in seq order: gaps, moves, edits, links, heads, columns."""

    def __init__(self, findings: Findings) -> None:
        self.findings = findings
        self.report = findings.report
        self.expected = 1
        self.prev: str | None = GENESIS
        self.prev_prev: str | None = None
        self.offset = 0
        #: Where the walk is: the last record's seq and head (what checkpoints are held to).
        self.last_seq = 0
        self.last_head: str | None = GENESIS

    def start(self, start_seq: int, anchor_head: str | None = None) -> None:
        """Walk from ``start_seq``; its predecessor's head is ``anchor_head`` if known.

        ``anchor_head`` comes from a checkpoint at ``start_seq - 1`` (a pruned
        trail starts there); without it the head is taken from the first
        record, on trust.
        """
        self.expected = start_seq
        self.last_seq = start_seq - 1
        if start_seq > 1:
            self.prev = anchor_head
            self.last_head = anchor_head

    def record(self, rec: ChainRecord | Inspected) -> None:
        """Check one record (or the result of :func:`inspect` on it)."""
        ins = rec if type(rec) is Inspected else inspect(rec)  # type: ignore[arg-type]
        if (
            ins.seq == self.expected
            and ins.body_seq == ins.seq
            and ins.hash_ok
            and ins.head_ok
            and ins.index_diff is None
            and ins.prev_head == self.prev
            and self.report.first_seq is not None
        ):
            # The common case, all is well: only move on.
            self.report.records += 1
            self.offset = 0
            self.prev_prev = ins.prev_head
            self.prev = self.last_head = ins.head
            self.last_seq = ins.seq
            self.expected = ins.seq + 1
            return
        self._diagnose(ins)

    def _diagnose(self, rec: Inspected) -> None:
        """Say what is wrong with a record that failed a check (or is the first one)."""
        report = self.report
        seq = rec.seq
        body_seq = rec.body_seq
        if seq < self.expected:
            self.findings.problem(
                ProblemKind.ORDER,
                f"record {seq} comes after record {self.last_seq}: "
                "records were reordered or duplicated",
                seq=seq,
            )
            return
        gap = seq > self.expected
        if gap:
            missing = (
                f"record {self.expected} is missing"
                if seq == self.expected + 1
                else f"records {self.expected} to {seq - 1} are missing"
            )
            self.findings.problem(ProblemKind.MISSING, f"{missing} (deleted)", seq=self.expected)
        report.records += 1
        if report.first_seq is None:
            report.first_seq = seq
            if self.prev is None:
                self.findings.warn(
                    f"verification starts at seq {seq}: the head before it "
                    f"({short(rec.prev_head)}) is taken on trust"
                )
        offset = seq - body_seq if isinstance(body_seq, int) else 0
        linked = gap or self.prev is None or rec.prev_head == self.prev
        if rec.malformed:
            self.findings.problem(
                ProblemKind.MALFORMED, "the record is not a reaper audit record", seq=seq
            )
        elif not linked and rec.prev_head == self.prev_prev:
            # This record follows the one before the previous: that one was slipped in.
            self.findings.problem(
                ProblemKind.LINK,
                f"record {self.last_seq} was inserted: record {seq} follows record "
                f"{self.last_seq - 1} directly",
                seq=self.last_seq,
            )
            self.offset = offset
        elif offset not in (0, self.offset):
            self.findings.problem(
                ProblemKind.MOVED,
                f"the record at seq {seq} was written as seq {body_seq}: "
                "records were moved, inserted or removed",
                seq=seq,
            )
        elif not rec.hash_ok:
            self.findings.problem(
                ProblemKind.EDITED,
                "the record's content does not match its hash: it was edited",
                seq=seq,
            )
        elif not linked:
            self.findings.problem(
                ProblemKind.LINK,
                f"the record does not follow record {self.last_seq} (prev_head "
                f"{short(rec.prev_head)}, expected {short(self.prev)}): a record "
                "before it was rewritten",
                seq=seq,
            )
        elif not rec.head_ok:
            self.findings.problem(
                ProblemKind.HEAD,
                "the stored head is not SHA-256(prev_head || record_hash)",
                seq=seq,
            )
        elif rec.index_diff is not None:
            self.findings.problem(
                ProblemKind.INDEX,
                f"the query columns disagree with the record ({rec.index_diff}): "
                "a column was edited",
                seq=seq,
            )
        # A run of records shifted by the same offset is one move, reported once.
        self.offset = offset
        # Resynchronise on what is stored, so the records after a problem are
        # judged on their own.
        self.prev_prev = rec.prev_head
        self.prev = rec.head
        self.last_head = rec.head
        self.last_seq = seq
        self.expected = seq + 1

    def finish_range(self, end_seq: int | None) -> None:
        """The report's end, and records missing before ``end_seq``."""
        report = self.report
        if report.records:
            report.last_seq = self.last_seq
            report.head = self.last_head
        if end_seq is not None and end_seq > self.last_seq:
            self.findings.problem(
                ProblemKind.MISSING,
                f"records {self.last_seq + 1} to {end_seq} are missing (deleted)",
                seq=self.last_seq + 1,
            )

    def finish_head(self, chain_head: ChainHead | None) -> None:
        """Whether the records end where the trail's head says they do."""
        if chain_head is None:
            return
        problem = self.findings.problem
        if chain_head.seq > self.last_seq:
            problem(
                ProblemKind.MISSING,
                f"the chain head is at seq {chain_head.seq} but the records end at "
                f"{self.last_seq}: the last records were removed",
                seq=self.last_seq + 1,
            )
        elif chain_head.seq < self.last_seq:
            problem(
                ProblemKind.CHAIN_HEAD,
                f"records after the chain head (seq {chain_head.seq}) exist: they were "
                "added without going through reaper",
                seq=chain_head.seq + 1,
            )
        elif self.last_head is not None and chain_head.head != self.last_head:
            problem(
                ProblemKind.CHAIN_HEAD,
                f"the chain head {short(chain_head.head)} is not the last record's head "
                f"{short(self.last_head)}",
                seq=self.last_seq,
            )


def _index_diff(stored: RecordIndex, actual: RecordIndex) -> str:
    return "; ".join(
        f"{name}: column {column!r}, record {value!r}"
        for name, column, value in zip(RecordIndex._fields, stored, actual, strict=True)
        if column != value
    )
