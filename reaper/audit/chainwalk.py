"""The chain walk: each record judged for its place in its stream.

:func:`~reaper.audit.inspection.inspect` does what needs only the record
(hashing, parsing, comparing the query columns), so worker processes can do
it; :class:`ChainWalk` then judges order and links, which need the records
in turn, and keeps only the last head of each stream. See
:mod:`reaper.audit.verify` for the checks and their order.
"""

from __future__ import annotations

from reaper.audit.chain import (
    FIRST_STREAM,
    GENESIS,
    ChainHead,
    ChainRecord,
    StreamHead,
    genesis,
    merged_head,
)
from reaper.audit.findings import Findings, ProblemKind, short
from reaper.audit.inspection import Inspected, inspect

__all__ = ["ChainWalk", "Inspected", "Stream", "finish_streams", "inspect"]


class Stream:
    """Where the walk is in one stream: ``None`` for what is unknown (a walk from mid-trail)."""

    __slots__ = ("head", "pos", "prev_prev", "prev_seq", "seq")

    def __init__(self, pos: int | None, seq: int, head: str | None) -> None:
        self.pos = pos
        self.seq = seq
        self.head = head
        self.prev_prev: str | None = None
        self.prev_seq = 0

    def at(self, stream: int) -> StreamHead:
        return StreamHead(stream, self.pos or 0, self.seq, self.head or "")


class ChainWalk:
    """Records in seq order: gaps, moves, edits, links, heads, columns; one head per stream."""

    def __init__(self, findings: Findings) -> None:
        self.findings = findings
        self.report = findings.report
        self.streams: dict[int, Stream] = {}
        #: Whether the heads before the first record are unknown (a walk from mid-trail).
        self.unknown = False
        #: Whether a record of a stream (other than one chain) was seen.
        self.streamed = False
        self.offset = 0
        #: Where the walk is: the last record's seq and head (what checkpoints are held to).
        self.last_seq = 0
        self.last_head: str | None = GENESIS
        #: Per stream, the last position to judge (verify's snapshot of the heads):
        #: records after it were appended meanwhile and are left for the next run.
        self.limits: dict[int, StreamHead] | None = None
        #: Per stream, the furthest position left out by ``limits``.
        self.skipped: dict[int, int] = {}

    def start(
        self,
        start_seq: int,
        anchor_head: str | None = None,
        anchor_streams: tuple[StreamHead, ...] = (),
    ) -> None:
        """Walk from ``start_seq``; the heads before it are the anchor's if known.

        The anchor is a checkpoint at ``start_seq - 1`` (a pruned trail starts
        there): its head (and its streams') is what the first records must
        follow; without it each stream's first record is taken on trust.
        """
        self.last_seq = start_seq - 1
        if start_seq <= 1:
            return
        self.last_head = anchor_head
        for at in anchor_streams:
            self.streams[at.stream] = Stream(at.pos, at.seq, at.head)
        if anchor_streams:
            self.streamed = True
        elif anchor_head is not None:
            self.streams[FIRST_STREAM] = Stream(start_seq - 1, start_seq - 1, anchor_head)
        else:
            self.unknown = True

    def _stream(self, stream: int) -> Stream:
        st = (
            Stream(None, 0, None)
            if self.unknown
            else Stream(0, 0, GENESIS if stream == FIRST_STREAM else genesis(stream))
        )
        self.streams[stream] = st
        return st

    def record(self, rec: ChainRecord | Inspected) -> None:
        """Check one record (or the result of :func:`inspect` on it)."""
        ins = rec if type(rec) is Inspected else inspect(rec)  # type: ignore[arg-type]
        st = self.streams.get(ins.stream) or self._stream(ins.stream)
        if self.limits is not None and self._beyond(ins):
            return
        if (
            st.pos is not None
            and ins.pos == st.pos + 1
            and ins.seq > self.last_seq
            and ins.body_seq == ins.seq
            and ins.hash_ok
            and ins.head_ok
            and ins.index_diff is None
            and ins.prev_head == st.head
            and self.report.first_seq is not None
        ):
            # The common case, all is well: only move on.
            self.report.records += 1
            self.offset = 0
            st.prev_prev, st.head, st.pos = ins.prev_head, ins.head, ins.pos
            st.prev_seq, st.seq = st.seq, ins.seq
            self.last_head = ins.head
            self.last_seq = ins.seq
            if ins.stream != FIRST_STREAM or ins.pos != ins.seq:
                self.streamed = True
            return
        diagnose(self, ins, st)

    def _beyond(self, ins: Inspected) -> bool:
        """Whether ``ins`` was appended after the heads verify judges against were read.

        Within a stream seqs rise with positions, so such a record is past its
        stream's head in both; one past the position but not the seq is not
        new, and is judged (and reported) like any other.
        """
        assert self.limits is not None
        limit = self.limits.get(ins.stream)
        pos, seq = (limit.pos, limit.seq) if limit is not None else (0, 0)
        if ins.pos > pos and ins.seq > seq:
            self.skipped[ins.stream] = max(self.skipped.get(ins.stream, 0), ins.pos)
            return True
        return False

    def heads(self) -> tuple[StreamHead, ...]:
        """Every stream's end as walked (those with records)."""
        return tuple(sorted(st.at(s) for s, st in self.streams.items() if st.pos))

    def finish_range(self, end_seq: int | None) -> None:
        """The report's end, and records missing before ``end_seq``."""
        report = self.report
        if report.records:
            report.last_seq = self.last_seq
            report.head = merged_head(self.heads()) if self.streamed else self.last_head
        if end_seq is not None and end_seq > self.last_seq and not self.streamed:
            self.findings.problem(
                ProblemKind.MISSING,
                f"records {self.last_seq + 1} to {end_seq} are missing (deleted)",
                seq=self.last_seq + 1,
            )

    def finish_head(self, chain_head: ChainHead | None) -> None:
        """Whether the records end where the trail's head says they do."""
        if chain_head is None:
            return
        if chain_head.streams or self.streamed:
            finish_streams(self, chain_head)
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


def finish_streams(walk: ChainWalk, chain_head: ChainHead) -> None:
    """Each stream's records end where its head row says (a trail written in streams)."""
    problem = walk.findings.problem
    named = {h.stream: h for h in chain_head.streams}
    if not chain_head.streams and chain_head.seq:
        named[FIRST_STREAM] = StreamHead(
            FIRST_STREAM, chain_head.seq, chain_head.seq, chain_head.head
        )
    for stream in sorted(set(named) | {s for s, st in walk.streams.items() if st.pos}):
        want, st = named.get(stream), walk.streams.get(stream)
        pos = (st.pos or 0) if st is not None else 0
        if want is None:
            problem(
                ProblemKind.CHAIN_HEAD,
                f"stream {stream} has records (to position {pos}) that no head row names: "
                "they were added without going through reaper",
                seq=st.seq if st is not None else None,
            )
        elif want.pos > pos:
            problem(
                ProblemKind.MISSING,
                f"the head of stream {stream} is at position {want.pos} (seq {want.seq}) but "
                f"its records end at position {pos}: the last records were removed",
                seq=(st.seq + 1) if st is not None and st.seq else want.seq,
            )
        elif want.pos < pos:
            problem(
                ProblemKind.CHAIN_HEAD,
                f"records after the head of stream {stream} (position {want.pos}) exist: "
                "they were added without going through reaper",
                seq=want.seq + 1,
            )
        elif st is not None and st.head is not None and want.head != st.head:
            problem(
                ProblemKind.CHAIN_HEAD,
                f"the head of stream {stream} {short(want.head)} is not its last record's "
                f"head {short(st.head)}",
                seq=st.seq,
            )


def diagnose(walk: ChainWalk, rec: Inspected, st: Stream) -> None:
    """Say what is wrong with a record that failed a check (or is the first one), and resync."""
    report = walk.report
    seq = rec.seq
    body_seq = rec.body_seq
    one_chain = rec.stream == FIRST_STREAM and rec.pos == seq
    if seq <= walk.last_seq and report.first_seq is not None:
        walk.findings.problem(
            ProblemKind.ORDER,
            f"record {seq} comes after record {walk.last_seq}: "
            "records were reordered or duplicated",
            seq=seq,
        )
        return
    expected = rec.pos if st.pos is None else st.pos + 1
    if rec.pos < expected:
        walk.findings.problem(
            ProblemKind.ORDER,
            f"record {seq} is at position {rec.pos} of stream {rec.stream}, which "
            f"already reached {expected - 1}: records were duplicated or reordered",
            seq=seq,
        )
        return
    gap = rec.pos > expected
    if gap:
        first, last = (expected, rec.pos - 1)
        if one_chain:
            missing = (
                f"record {first} is missing"
                if first == last
                else f"records {first} to {last} are missing"
            )
            walk.findings.problem(ProblemKind.MISSING, f"{missing} (deleted)", seq=first)
        else:
            where = f"position {first}" if first == last else f"positions {first} to {last}"
            walk.findings.problem(
                ProblemKind.MISSING,
                f"the records at {where} of stream {rec.stream} are missing (deleted): "
                f"record {seq} follows record {st.seq or 'none'}",
                seq=st.seq + 1 if st.seq else seq,
            )
    report.records += 1
    if report.first_seq is None:
        report.first_seq = seq
        if st.head is None:
            walk.findings.warn(
                f"verification starts at seq {seq}: the head before it "
                f"({short(rec.prev_head)}) is taken on trust"
            )
    offset = seq - body_seq if isinstance(body_seq, int) else 0
    linked = gap or st.head is None or rec.prev_head == st.head
    if rec.malformed:
        walk.findings.problem(
            ProblemKind.MALFORMED, "the record is not a reaper audit record", seq=seq
        )
    elif not linked and rec.prev_head == st.prev_prev:
        # This record follows the one before the previous: that one was slipped in.
        walk.findings.problem(
            ProblemKind.LINK,
            f"record {st.seq} was inserted: record {seq} follows record {st.prev_seq} directly",
            seq=st.seq,
        )
        walk.offset = offset
    elif offset not in (0, walk.offset):
        walk.findings.problem(
            ProblemKind.MOVED,
            f"the record at seq {seq} was written as seq {body_seq}: "
            "records were moved, inserted or removed",
            seq=seq,
        )
    elif not rec.hash_ok:
        walk.findings.problem(
            ProblemKind.EDITED,
            "the record's content does not match its hash: it was edited",
            seq=seq,
        )
    elif not linked:
        walk.findings.problem(
            ProblemKind.LINK,
            f"the record does not follow record {st.seq} (prev_head "
            f"{short(rec.prev_head)}, expected {short(st.head)}): a record "
            "before it was rewritten"
            + ("" if one_chain else f", or moved from another stream than {rec.stream}"),
            seq=seq,
        )
    elif not rec.head_ok:
        walk.findings.problem(
            ProblemKind.HEAD,
            "the stored head is not SHA-256(prev_head || record_hash)",
            seq=seq,
        )
    elif rec.index_diff is not None:
        walk.findings.problem(
            ProblemKind.INDEX,
            f"the query columns disagree with the record ({rec.index_diff}): a column was edited",
            seq=seq,
        )
    # A run of records shifted by the same offset is one move, reported once.
    walk.offset = offset
    # Resynchronise on what is stored, so the records after a problem are
    # judged on their own.
    st.prev_prev, st.head, st.pos = rec.prev_head, rec.head, rec.pos
    st.prev_seq, st.seq = st.seq, seq
    walk.last_head = rec.head
    walk.last_seq = seq
    if not one_chain:
        walk.streamed = True
