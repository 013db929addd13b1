"""The checkpoint checks: digests, continuity, signatures, and what they say of the chain.

Each checkpoint is checked for its digest, its columns against its signed
body, its place after the previous one (numbers and ``prev`` digests), its
signature, and against the chain walked so far: a checkpoint whose head
differs from the record at its ``seq`` means the records before it were
rewritten (hashes and all); one beyond the last record means the tail was
cut off. The walk's position (``last_seq``, ``last_head``) is read, never
changed. Signatures are checked apart (:class:`SignatureCheck`): they say who
wrote a checkpoint, the rest where it belongs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reaper import canonical
from reaper.audit import keys
from reaper.audit.chain import StreamHead
from reaper.audit.chainwalk import ChainWalk
from reaper.audit.checkpoint import Checkpoint, CheckpointHead
from reaper.audit.findings import Findings, ProblemKind, short


class SignatureCheck:
    """Whether each checkpoint is signed by the trusted key, and what could not be proven.

    Apart from the position checks: a signature says who wrote a checkpoint,
    not where it belongs in the chain.
    """

    def __init__(
        self,
        findings: Findings,
        public_key: Ed25519PublicKey | None,
        *,
        require_signed: bool = False,
    ) -> None:
        self.findings = findings
        self.public_key = public_key
        self.key_id = keys.key_id(public_key) if public_key is not None else None
        self.require_signed = require_signed
        self.unsigned = 0
        self.unverifiable = 0

    def check(self, cp: Checkpoint) -> None:
        """Signed, by the trusted key, and the signature verifies (or counted as unproven)."""
        n = cp.number
        if cp.signature is None:
            if self.require_signed:
                self.findings.problem(
                    ProblemKind.UNSIGNED, "the checkpoint is not signed", checkpoint=n
                )
            else:
                self.unsigned += 1
            return
        if self.public_key is None:
            self.unverifiable += 1
            return
        if cp.key_id != self.key_id:
            self.findings.problem(
                ProblemKind.SIGNATURE,
                f"signed by key {short(cp.key_id)}, not by the trusted key {short(self.key_id)}",
                checkpoint=n,
            )
        elif not keys.verify_signature(self.public_key, cp.body.encode("utf-8"), cp.signature):
            self.findings.problem(
                ProblemKind.SIGNATURE,
                "the signature does not verify: the checkpoint was forged or altered",
                checkpoint=n,
            )
        else:
            self.findings.report.signatures_verified += 1

    def finish_warnings(self) -> None:
        """The checkpoints whose signature proves nothing: unsigned, or no key to check."""
        if self.unsigned:
            self.findings.warn(f"{self.unsigned} checkpoint(s) are unsigned")
        if self.unverifiable:
            self.findings.warn(
                f"{self.unverifiable} checkpoint signature(s) not checked: no public key given"
            )


class CheckpointChecks:
    """Checkpoints in number order, interleaved with the records they cover."""

    def __init__(
        self,
        findings: Findings,
        walk: ChainWalk,
        *,
        public_key: Ed25519PublicKey | None = None,
        require_signed: bool = False,
        checkpoint_interval: float | None = None,
    ) -> None:
        self.findings = findings
        self.walk = walk
        self.signatures = SignatureCheck(findings, public_key, require_signed=require_signed)
        self.interval = checkpoint_interval
        #: The last seq a checkpoint vouched for, as the chain has it.
        self.last_good_seq = 0
        self.number: int | None = None
        self.digest: str | None = None
        self.seq: int | None = None
        self.time: dt.datetime | None = None
        self.last_cp_seq: int | None = None

    def start(self, start_seq: int) -> None:
        self.last_good_seq = start_seq - 1

    def check(self, cp: Checkpoint) -> None:
        self.findings.report.checkpoints += 1
        n = cp.number
        digest = canonical.sha256_hex(cp.body.encode("utf-8"))
        seq: Any
        head: Any
        streams = cp.streams()
        try:
            payload = cp.payload()
        except ValueError:
            payload = None
        if payload is None:
            self.findings.problem(
                ProblemKind.CHECKPOINT_CHAIN, "the checkpoint body is not JSON", checkpoint=n
            )
            seq, head, when = cp.seq, cp.head, cp.created_at
        else:
            seq, head = payload.get("seq"), payload.get("head")
            when = _time(payload.get("time")) or cp.created_at
            if digest != cp.digest:
                self.findings.problem(
                    ProblemKind.CHECKPOINT_CHAIN,
                    "the checkpoint body does not match its digest: it was edited",
                    checkpoint=n,
                )
            mismatch = _checkpoint_columns(cp, payload)
            if mismatch:
                self.findings.problem(
                    ProblemKind.CHECKPOINT_CHAIN,
                    f"the checkpoint's columns disagree with its signed body ({mismatch})",
                    checkpoint=n,
                )
            self._sequence(cp, payload)
        self.signatures.check(cp)
        self._position(n, seq, head, when, streams)
        if self.time is not None and when is not None:
            if when < self.time - dt.timedelta(minutes=5):
                self.findings.warn(f"checkpoint #{n} is dated before checkpoint #{n - 1}")
            elif self.interval and when - self.time > dt.timedelta(seconds=2 * self.interval + 60):
                self.findings.warn(
                    f"no checkpoint between #{n - 1} ({canonical.jsonable(self.time)}) and "
                    f"#{n} ({canonical.jsonable(when)}): reaper was not running"
                )
        self.number = n
        self.digest = digest
        self.seq = seq if isinstance(seq, int) else self.seq
        self.time = when
        if isinstance(seq, int):
            self.last_cp_seq = seq

    def _sequence(self, cp: Checkpoint, payload: dict[str, Any]) -> None:
        n = cp.number
        if self.number is None:
            if n == 1 and payload.get("prev") is not None:
                self.findings.problem(
                    ProblemKind.CHECKPOINT_CHAIN,
                    "the first checkpoint names a predecessor",
                    checkpoint=n,
                )
            return
        if n != self.number + 1:
            gone = (
                f"checkpoint #{self.number + 1} is missing"
                if n == self.number + 2
                else f"checkpoints #{self.number + 1} to #{n - 1} are missing"
            )
            self.findings.problem(ProblemKind.CHECKPOINT_CHAIN, f"{gone} (deleted)", checkpoint=n)
        elif payload.get("prev") != self.digest:
            self.findings.problem(
                ProblemKind.CHECKPOINT_CHAIN,
                f"the checkpoint does not follow checkpoint #{self.number}: "
                "a checkpoint was replaced",
                checkpoint=n,
            )
        seq = payload.get("seq")
        if isinstance(seq, int) and self.seq is not None and seq < self.seq:
            self.findings.problem(
                ProblemKind.CHECKPOINT_CHAIN,
                f"the checkpoint covers seq {seq}, less than checkpoint #{self.number} "
                f"({self.seq}): the chain went backwards",
                checkpoint=n,
                seq=seq + 1,
            )

    def _position(
        self,
        n: int,
        seq: Any,
        head: Any,
        when: dt.datetime | None,
        streams: tuple[StreamHead, ...] | None = (),
    ) -> None:
        if not isinstance(seq, int) or not isinstance(head, str):
            self.findings.problem(
                ProblemKind.CHECKPOINT_CHAIN, "the checkpoint names no seq and head", checkpoint=n
            )
            return
        stamp = f"checkpoint #{n} ({canonical.jsonable(when)})"
        if seq == self.walk.last_seq and streams:
            check_streams(self, n, stamp, seq, streams)
        elif seq == self.walk.last_seq:
            if self.walk.last_head is not None and head != self.walk.last_head:
                first = self.last_good_seq + 1
                self.findings.problem(
                    ProblemKind.CHECKPOINT,
                    f"{stamp} says the head at seq {seq} is {short(head)}, the chain has "
                    f"{short(self.walk.last_head)}: records {first} to {seq} were rewritten "
                    "after it was signed",
                    seq=first,
                    checkpoint=n,
                )
            else:
                self.last_good_seq = seq
        elif seq > self.walk.last_seq:
            self.findings.problem(
                ProblemKind.MISSING,
                f"{stamp} covers seq {seq}, but the chain has no record {seq} "
                f"after {self.walk.last_seq}: records were removed",
                seq=self.walk.last_seq + 1,
                checkpoint=n,
            )
        # seq below what was already checked: reported by _checkpoint_sequence.

    def finish_head(self, checkpoint_head: CheckpointHead | None) -> None:
        """Whether the checkpoints end where the trail says they do."""
        if checkpoint_head is not None and checkpoint_head.number != (self.number or 0):
            self.findings.problem(
                ProblemKind.CHECKPOINT_CHAIN,
                f"the trail says its last checkpoint is #{checkpoint_head.number}, the last "
                f"one found is #{self.number or 0}: checkpoints were removed or added",
                checkpoint=checkpoint_head.number,
            )

    def finish_warnings(self, now: dt.datetime | None) -> None:
        """What the checkpoints leave uncovered or unproven, and how old the last one is."""
        warn, last_seq = self.findings.warn, self.walk.last_seq
        if self.findings.report.checkpoints == 0:
            warn("no checkpoints: a removed tail of the trail could not be detected")
        elif self.last_cp_seq is not None and last_seq > self.last_cp_seq:
            warn(
                f"{last_seq - self.last_cp_seq} record(s) after the last checkpoint "
                f"(seq {self.last_cp_seq}) are not covered by a checkpoint yet"
            )
        self.signatures.finish_warnings()
        if now is not None and self.interval and self.time is not None:
            age = now - self.time
            if age > dt.timedelta(seconds=2 * self.interval + 60):
                warn(
                    f"the latest checkpoint is {int(age.total_seconds())}s old (interval "
                    f"{int(self.interval)}s): no checkpointer is running, or the newest "
                    "checkpoints were removed"
                )


def check_streams(
    checks: CheckpointChecks, n: int, stamp: str, seq: int, streams: tuple[StreamHead, ...]
) -> None:
    """A checkpoint of a trail in streams: every stream where it says, none it does not name."""
    walked = {s.stream: s for s in checks.walk.heads()}
    first = checks.last_good_seq + 1
    wrong = []
    #: Where the first difference can be: after the last record a short stream kept.
    cut = seq + 1
    for want in streams:
        got = walked.pop(want.stream, None)
        state = checks.walk.streams.get(want.stream)
        if state is not None and state.head is None:
            continue  # a walk from mid-trail: this stream's start is unknown
        if got is None or (got.pos, got.head) != (want.pos, want.head):
            have = f"position {got.pos}, head {short(got.head)}" if got else "no record"
            if got is None or got.pos < want.pos:
                cut = min(cut, got.seq + 1 if got is not None else first)
            wrong.append(
                f"stream {want.stream} at position {want.pos} with head "
                f"{short(want.head)}, the chain has {have}"
            )
    wrong.extend(
        f"stream {s} (position {got.pos}), which it does not name: its records were added"
        for s, got in walked.items()
        if checks.walk.streams[s].head is not None
    )
    if wrong:
        checks.findings.problem(
            ProblemKind.CHECKPOINT,
            f"{stamp} says {'; '.join(wrong)}: records {first} to {seq} were removed, "
            "rewritten or moved after it was signed",
            seq=first if cut > seq else max(first, cut),
            checkpoint=n,
        )
    else:
        checks.last_good_seq = seq


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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
