"""Verification of the chain and its checkpoints, streamed, without I/O.

Pure: it judges what it is given. Reading a stored trail (and spreading the
hashing over processes) is :func:`reaper.audit.parallel.verify_store`.

:class:`Verifier` consumes records and checkpoints in order (from the store
or from an exported bundle) and holds only the last head and the last
checkpoint, so memory stays flat however long the trail is. Each record is
checked for, in this order (the first failure is the one reported for it):

* position: ``seq`` follows the previous one (else records are missing, or
  out of order);
* the body names the same ``seq`` (else a record was moved);
* ``SHA-256(body) == record_hash`` (else the record was edited);
* ``prev_head`` is the previous record's head (else something before it was
  inserted, removed or rewritten);
* ``head == SHA-256(prev_head || record_hash)``;
* the query columns agree with the body (else a column was edited, e.g. to
  hide a record from ``audit show``).

After a failure the verifier resynchronises on the stored head and goes on,
so a change is reported where it is (and perhaps at the record right after
it), not at every record that follows. Checkpoints are checked for
digest, continuity (numbers and ``prev`` digests), signature, and against
the chain: a checkpoint whose head differs from the record at its ``seq``
means the records before it were rewritten (hashes and all); one beyond the
last record means the tail was cut off.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reaper import canonical
from reaper.audit import keys
from reaper.audit.chain import GENESIS, ChainHead, ChainRecord
from reaper.audit.checkpoint import Checkpoint, CheckpointHead
from reaper.audit.columns import RecordIndex, index_of


class ProblemKind(str, enum.Enum):
    MISSING = "missing"
    ORDER = "order"
    MALFORMED = "malformed"
    MOVED = "moved"
    EDITED = "edited"
    LINK = "link"
    HEAD = "head"
    INDEX = "index"
    CHAIN_HEAD = "chain_head"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_CHAIN = "checkpoint_chain"
    SIGNATURE = "signature"
    UNSIGNED = "unsigned"
    BUNDLE = "bundle"


@dataclass(frozen=True)
class Problem:
    """One inconsistency: where (``seq`` and/or ``checkpoint`` number) and why."""

    kind: ProblemKind
    message: str
    seq: int | None = None
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.checkpoint is not None:
            where.append(f"checkpoint #{self.checkpoint}")
        return f"{', '.join(where) or 'trail'}: {self.message}"


@dataclass
class VerifyReport:
    """The verdict. ``ok`` only when no problem was found; warnings do not fail it."""

    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head: str | None = None
    checkpoints: int = 0
    signatures_verified: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    first_bad_seq: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_problem(self) -> Problem | None:
        """The problem at the lowest seq (or the first one found, if none has a seq)."""
        with_seq = [p for p in self.problems if p.seq is not None]
        if with_seq:
            return min(with_seq, key=lambda p: p.seq or 0)
        return self.problems[0] if self.problems else None


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


def _short(digest: str | None) -> str:
    return (digest or "none")[:12]


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
                index_diff = _index_diff(index, actual)
    return Inspected(
        seq, prev_head, head, rh == stored_hash, head_ok, body_seq, body is None, index_diff
    )


class Verifier:
    """Checks a stream of records and checkpoints; see the module docstring.

    ``public_key`` verifies checkpoint signatures (without it they are only
    counted, with a warning). ``require_signed`` turns unsigned checkpoints
    into problems. ``checkpoint_interval`` (seconds) enables the warnings
    about missing periodic checkpoints.
    """

    def __init__(
        self,
        *,
        public_key: Ed25519PublicKey | None = None,
        require_signed: bool = False,
        checkpoint_interval: float | None = None,
        max_problems: int = 100,
        now: dt.datetime | None = None,
    ) -> None:
        self.public_key = public_key
        self.key_id = keys.key_id(public_key) if public_key is not None else None
        self.require_signed = require_signed
        self.interval = checkpoint_interval
        self.max_problems = max_problems
        self.now = now
        self.report = VerifyReport()
        self._expected = 1
        self._prev: str | None = GENESIS
        self._prev_prev: str | None = None
        self._offset = 0
        self._last_seq = 0
        self._last_head: str | None = GENESIS
        self._last_good_cp_seq = 0
        self._cp_number: int | None = None
        self._cp_digest: str | None = None
        self._cp_seq: int | None = None
        self._cp_time: dt.datetime | None = None
        self._last_cp_seq: int | None = None
        self._unsigned = 0
        self._unverifiable = 0

    # -- results ---------------------------------------------------------

    def problem(
        self,
        kind: ProblemKind,
        message: str,
        *,
        seq: int | None = None,
        checkpoint: int | None = None,
    ) -> None:
        report = self.report
        report.problem_count += 1
        if seq is not None and (report.first_bad_seq is None or seq < report.first_bad_seq):
            report.first_bad_seq = seq
        if len(report.problems) < self.max_problems:
            report.problems.append(Problem(kind, message, seq, checkpoint))

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)

    # -- driving ---------------------------------------------------------

    def run(
        self,
        records: Iterable[ChainRecord] | Iterable[Inspected],
        checkpoints: Iterable[Checkpoint] = (),
        *,
        start_seq: int = 1,
        end_seq: int | None = None,
        chain_head: ChainHead | None = None,
        checkpoint_head: CheckpointHead | None = None,
    ) -> VerifyReport:
        """Verify ``records`` (from ``start_seq`` on) against ``checkpoints``.

        ``chain_head`` is where the trail claims to end (the store's head row,
        a bundle's manifest): records missing before it are reported even
        when no checkpoint covers them yet. ``end_seq`` says the same of a
        range that stops earlier. ``checkpoint_head`` is the last checkpoint
        the trail claims to have, so removing the newest ones is seen too.
        """
        self.start(start_seq)
        pending: Iterator[Checkpoint] = iter(checkpoints)
        cp = next(pending, None)
        for rec in records:
            while cp is not None and cp.seq < rec.seq:
                self.checkpoint(cp)
                cp = next(pending, None)
            self.record(rec)
        while cp is not None:
            self.checkpoint(cp)
            cp = next(pending, None)
        return self.finish(chain_head, end_seq=end_seq, checkpoint_head=checkpoint_head)

    def start(self, start_seq: int) -> None:
        self._expected = start_seq
        self._last_seq = start_seq - 1
        self._last_good_cp_seq = start_seq - 1
        if start_seq > 1:
            # The predecessor's head is taken from the first record, on trust.
            self._prev = None
            self._last_head = None

    # -- records ---------------------------------------------------------

    def record(self, rec: ChainRecord | Inspected) -> None:
        """Check one record (or the result of :func:`inspect` on it)."""
        ins = rec if type(rec) is Inspected else inspect(rec)  # type: ignore[arg-type]
        if (
            ins.seq == self._expected
            and ins.body_seq == ins.seq
            and ins.hash_ok
            and ins.head_ok
            and ins.index_diff is None
            and ins.prev_head == self._prev
            and self.report.first_seq is not None
        ):
            # The common case, all is well: only move on.
            self.report.records += 1
            self._offset = 0
            self._prev_prev = ins.prev_head
            self._prev = self._last_head = ins.head
            self._last_seq = ins.seq
            self._expected = ins.seq + 1
            return
        self._diagnose(ins)

    def _diagnose(self, rec: Inspected) -> None:
        """Say what is wrong with a record that failed a check (or is the first one)."""
        report = self.report
        seq = rec.seq
        body_seq = rec.body_seq
        if seq < self._expected:
            self.problem(
                ProblemKind.ORDER,
                f"record {seq} comes after record {self._last_seq}: "
                "records were reordered or duplicated",
                seq=seq,
            )
            return
        gap = seq > self._expected
        if gap:
            missing = (
                f"record {self._expected} is missing"
                if seq == self._expected + 1
                else f"records {self._expected} to {seq - 1} are missing"
            )
            self.problem(ProblemKind.MISSING, f"{missing} (deleted)", seq=self._expected)
        report.records += 1
        if report.first_seq is None:
            report.first_seq = seq
            if self._prev is None:
                self.warn(
                    f"verification starts at seq {seq}: the head before it "
                    f"({_short(rec.prev_head)}) is taken on trust"
                )
        offset = seq - body_seq if isinstance(body_seq, int) else 0
        linked = gap or self._prev is None or rec.prev_head == self._prev
        if rec.malformed:
            self.problem(ProblemKind.MALFORMED, "the record is not a reaper audit record", seq=seq)
        elif not linked and rec.prev_head == self._prev_prev:
            # This record follows the one before the previous: that one was slipped in.
            self.problem(
                ProblemKind.LINK,
                f"record {self._last_seq} was inserted: record {seq} follows record "
                f"{self._last_seq - 1} directly",
                seq=self._last_seq,
            )
            self._offset = offset
        elif offset not in (0, self._offset):
            self.problem(
                ProblemKind.MOVED,
                f"the record at seq {seq} was written as seq {body_seq}: "
                "records were moved, inserted or removed",
                seq=seq,
            )
        elif not rec.hash_ok:
            self.problem(
                ProblemKind.EDITED,
                "the record's content does not match its hash: it was edited",
                seq=seq,
            )
        elif not linked:
            self.problem(
                ProblemKind.LINK,
                f"the record does not follow record {self._last_seq} (prev_head "
                f"{_short(rec.prev_head)}, expected {_short(self._prev)}): a record "
                "before it was rewritten",
                seq=seq,
            )
        elif not rec.head_ok:
            self.problem(
                ProblemKind.HEAD,
                "the stored head is not SHA-256(prev_head || record_hash)",
                seq=seq,
            )
        elif rec.index_diff is not None:
            self.problem(
                ProblemKind.INDEX,
                f"the query columns disagree with the record ({rec.index_diff}): "
                "a column was edited",
                seq=seq,
            )
        # A run of records shifted by the same offset is one move, reported once.
        self._offset = offset
        # Resynchronise on what is stored, so the records after a problem are
        # judged on their own.
        self._prev_prev = rec.prev_head
        self._prev = rec.head
        self._last_head = rec.head
        self._last_seq = seq
        self._expected = seq + 1

    # -- checkpoints -----------------------------------------------------

    def checkpoint(self, cp: Checkpoint) -> None:
        self.report.checkpoints += 1
        n = cp.number
        digest = canonical.sha256_hex(cp.body.encode("utf-8"))
        seq: Any
        head: Any
        try:
            payload = cp.payload()
        except ValueError:
            payload = None
        if payload is None:
            self.problem(
                ProblemKind.CHECKPOINT_CHAIN, "the checkpoint body is not JSON", checkpoint=n
            )
            seq, head, when = cp.seq, cp.head, cp.created_at
        else:
            seq, head = payload.get("seq"), payload.get("head")
            when = _time(payload.get("time")) or cp.created_at
            if digest != cp.digest:
                self.problem(
                    ProblemKind.CHECKPOINT_CHAIN,
                    "the checkpoint body does not match its digest: it was edited",
                    checkpoint=n,
                )
            mismatch = _checkpoint_columns(cp, payload)
            if mismatch:
                self.problem(
                    ProblemKind.CHECKPOINT_CHAIN,
                    f"the checkpoint's columns disagree with its signed body ({mismatch})",
                    checkpoint=n,
                )
            self._checkpoint_sequence(cp, payload)
        self._signature(cp)
        self._checkpoint_position(n, seq, head, when)
        if self._cp_time is not None and when is not None:
            if when < self._cp_time - dt.timedelta(minutes=5):
                self.warn(f"checkpoint #{n} is dated before checkpoint #{n - 1}")
            elif self.interval and when - self._cp_time > dt.timedelta(
                seconds=2 * self.interval + 60
            ):
                self.warn(
                    f"no checkpoint between #{n - 1} ({canonical.jsonable(self._cp_time)}) and "
                    f"#{n} ({canonical.jsonable(when)}): reaper was not running"
                )
        self._cp_number = n
        self._cp_digest = digest
        self._cp_seq = seq if isinstance(seq, int) else self._cp_seq
        self._cp_time = when
        if isinstance(seq, int):
            self._last_cp_seq = seq

    def _checkpoint_sequence(self, cp: Checkpoint, payload: dict[str, Any]) -> None:
        n = cp.number
        if self._cp_number is None:
            if n == 1 and payload.get("prev") is not None:
                self.problem(
                    ProblemKind.CHECKPOINT_CHAIN,
                    "the first checkpoint names a predecessor",
                    checkpoint=n,
                )
            return
        if n != self._cp_number + 1:
            gone = (
                f"checkpoint #{self._cp_number + 1} is missing"
                if n == self._cp_number + 2
                else f"checkpoints #{self._cp_number + 1} to #{n - 1} are missing"
            )
            self.problem(ProblemKind.CHECKPOINT_CHAIN, f"{gone} (deleted)", checkpoint=n)
        elif payload.get("prev") != self._cp_digest:
            self.problem(
                ProblemKind.CHECKPOINT_CHAIN,
                f"the checkpoint does not follow checkpoint #{self._cp_number}: "
                "a checkpoint was replaced",
                checkpoint=n,
            )
        seq = payload.get("seq")
        if isinstance(seq, int) and self._cp_seq is not None and seq < self._cp_seq:
            self.problem(
                ProblemKind.CHECKPOINT_CHAIN,
                f"the checkpoint covers seq {seq}, less than checkpoint #{self._cp_number} "
                f"({self._cp_seq}): the chain went backwards",
                checkpoint=n,
                seq=seq + 1,
            )

    def _signature(self, cp: Checkpoint) -> None:
        n = cp.number
        if cp.signature is None:
            if self.require_signed:
                self.problem(ProblemKind.UNSIGNED, "the checkpoint is not signed", checkpoint=n)
            else:
                self._unsigned += 1
            return
        if self.public_key is None:
            self._unverifiable += 1
            return
        if cp.key_id != self.key_id:
            self.problem(
                ProblemKind.SIGNATURE,
                f"signed by key {_short(cp.key_id)}, not by the trusted key {_short(self.key_id)}",
                checkpoint=n,
            )
        elif not keys.verify_signature(self.public_key, cp.body.encode("utf-8"), cp.signature):
            self.problem(
                ProblemKind.SIGNATURE,
                "the signature does not verify: the checkpoint was forged or altered",
                checkpoint=n,
            )
        else:
            self.report.signatures_verified += 1

    def _checkpoint_position(self, n: int, seq: Any, head: Any, when: dt.datetime | None) -> None:
        if not isinstance(seq, int) or not isinstance(head, str):
            self.problem(
                ProblemKind.CHECKPOINT_CHAIN, "the checkpoint names no seq and head", checkpoint=n
            )
            return
        stamp = f"checkpoint #{n} ({canonical.jsonable(when)})"
        if seq == self._last_seq:
            if self._last_head is not None and head != self._last_head:
                first = self._last_good_cp_seq + 1
                self.problem(
                    ProblemKind.CHECKPOINT,
                    f"{stamp} says the head at seq {seq} is {_short(head)}, the chain has "
                    f"{_short(self._last_head)}: records {first} to {seq} were rewritten "
                    "after it was signed",
                    seq=first,
                    checkpoint=n,
                )
            else:
                self._last_good_cp_seq = seq
        elif seq > self._last_seq:
            self.problem(
                ProblemKind.MISSING,
                f"{stamp} covers seq {seq}, but the chain has no record {seq} "
                f"after {self._last_seq}: records were removed",
                seq=self._last_seq + 1,
                checkpoint=n,
            )
        # seq below what was already checked: reported by _checkpoint_sequence.

    # -- the end ---------------------------------------------------------

    def finish(
        self,
        chain_head: ChainHead | None = None,
        *,
        end_seq: int | None = None,
        checkpoint_head: CheckpointHead | None = None,
    ) -> VerifyReport:
        report = self.report
        if report.records:
            report.last_seq = self._last_seq
            report.head = self._last_head
        if end_seq is not None and end_seq > self._last_seq:
            self.problem(
                ProblemKind.MISSING,
                f"records {self._last_seq + 1} to {end_seq} are missing (deleted)",
                seq=self._last_seq + 1,
            )
        if checkpoint_head is not None and checkpoint_head.number != (self._cp_number or 0):
            self.problem(
                ProblemKind.CHECKPOINT_CHAIN,
                f"the trail says its last checkpoint is #{checkpoint_head.number}, the last "
                f"one found is #{self._cp_number or 0}: checkpoints were removed or added",
                checkpoint=checkpoint_head.number,
            )
        if chain_head is not None:
            if chain_head.seq > self._last_seq:
                self.problem(
                    ProblemKind.MISSING,
                    f"the chain head is at seq {chain_head.seq} but the records end at "
                    f"{self._last_seq}: the last records were removed",
                    seq=self._last_seq + 1,
                )
            elif chain_head.seq < self._last_seq:
                self.problem(
                    ProblemKind.CHAIN_HEAD,
                    f"records after the chain head (seq {chain_head.seq}) exist: they were "
                    "added without going through reaper",
                    seq=chain_head.seq + 1,
                )
            elif self._last_head is not None and chain_head.head != self._last_head:
                self.problem(
                    ProblemKind.CHAIN_HEAD,
                    f"the chain head {_short(chain_head.head)} is not the last record's head "
                    f"{_short(self._last_head)}",
                    seq=self._last_seq,
                )
        if report.checkpoints == 0:
            self.warn("no checkpoints: a removed tail of the trail could not be detected")
        elif self._last_cp_seq is not None and self._last_seq > self._last_cp_seq:
            self.warn(
                f"{self._last_seq - self._last_cp_seq} record(s) after the last checkpoint "
                f"(seq {self._last_cp_seq}) are not covered by a checkpoint yet"
            )
        if self._unsigned:
            self.warn(f"{self._unsigned} checkpoint(s) are unsigned")
        if self._unverifiable:
            self.warn(
                f"{self._unverifiable} checkpoint signature(s) not checked: no public key given"
            )
        if self.now is not None and self.interval and self._cp_time is not None:
            age = self.now - self._cp_time
            if age > dt.timedelta(seconds=2 * self.interval + 60):
                self.warn(
                    f"the latest checkpoint is {int(age.total_seconds())}s old (interval "
                    f"{int(self.interval)}s): no checkpointer is running, or the newest "
                    "checkpoints were removed"
                )
        return report


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _index_diff(stored: RecordIndex, actual: RecordIndex) -> str:
    return "; ".join(
        f"{name}: column {column!r}, record {value!r}"
        for name, column, value in zip(RecordIndex._fields, stored, actual, strict=True)
        if column != value
    )


def _checkpoint_columns(cp: Checkpoint, payload: dict[str, Any]) -> str:
    columns = {
        "number": cp.number,
        "seq": cp.seq,
        "head": cp.head,
        "reason": cp.reason,
        "tombstone_id": cp.tombstone_id,
        "key_id": cp.key_id,
        "time": canonical.jsonable(cp.created_at),
    }
    return "; ".join(
        f"{name}: {value!r} vs {payload.get(name)!r}"
        for name, value in columns.items()
        if payload.get(name) != value
    )
