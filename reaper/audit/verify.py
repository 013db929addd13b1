"""Verification of the chain and its checkpoints, streamed, without I/O.

Pure: it judges what it is given. Reading a stored trail (and spreading the
hashing over processes) is :func:`reaper.audit.parallel.verify_store`. The
work is split in two rooms: :mod:`reaper.audit.chainwalk` (the records) and
:mod:`reaper.audit.checkpoint_checks` (the checkpoints); both report into
one :class:`~reaper.audit.findings.Findings`. :class:`Verifier` interleaves
them.

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
from collections.abc import Iterable, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reaper.audit.chain import ChainHead, ChainRecord
from reaper.audit.chainwalk import ChainWalk, Inspected, inspect
from reaper.audit.checkpoint import Checkpoint, CheckpointHead
from reaper.audit.checkpoint_checks import CheckpointChecks
from reaper.audit.findings import Findings, Problem, ProblemKind, VerifyReport

__all__ = ["Inspected", "Problem", "ProblemKind", "Verifier", "VerifyReport", "inspect"]


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
        self.findings = Findings(max_problems)
        self.report = self.findings.report
        self.now = now
        self.walk = ChainWalk(self.findings)
        self.checkpoints = CheckpointChecks(
            self.findings,
            self.walk,
            public_key=public_key,
            require_signed=require_signed,
            checkpoint_interval=checkpoint_interval,
        )
        #: One record, checked (the chain walk's).
        self.record = self.walk.record
        #: One checkpoint, checked against the chain so far.
        self.checkpoint = self.checkpoints.check

    def problem(
        self,
        kind: ProblemKind,
        message: str,
        *,
        seq: int | None = None,
        checkpoint: int | None = None,
    ) -> None:
        self.findings.problem(kind, message, seq=seq, checkpoint=checkpoint)

    def warn(self, message: str) -> None:
        self.findings.warn(message)

    def run(
        self,
        records: Iterable[ChainRecord] | Iterable[Inspected],
        checkpoints: Iterable[Checkpoint] = (),
        *,
        start_seq: int = 1,
        end_seq: int | None = None,
        chain_head: ChainHead | None = None,
        checkpoint_head: CheckpointHead | None = None,
        anchor: Checkpoint | None = None,
    ) -> VerifyReport:
        """Verify ``records`` (from ``start_seq`` on) against ``checkpoints``.

        ``chain_head`` is where the trail claims to end (the store's head row,
        a bundle's manifest): records missing before it are reported even
        when no checkpoint covers them yet. ``end_seq`` says the same of a
        range that stops earlier. ``checkpoint_head`` is the last checkpoint
        the trail claims to have, so removing the newest ones is seen too.
        ``anchor`` is the checkpoint at ``start_seq - 1`` a pruned trail starts
        from (also the first of ``checkpoints``): its head is what the first
        record must follow, proven by its signature rather than taken on trust.
        """
        self.start(start_seq, anchor)
        record, checkpoint = self.record, self.checkpoint
        pending: Iterator[Checkpoint] = iter(checkpoints)
        cp = next(pending, None)
        for rec in records:
            while cp is not None and cp.seq < rec.seq:
                checkpoint(cp)
                cp = next(pending, None)
            record(rec)
        while cp is not None:
            checkpoint(cp)
            cp = next(pending, None)
        return self.finish(chain_head, end_seq=end_seq, checkpoint_head=checkpoint_head)

    def start(self, start_seq: int, anchor: Checkpoint | None = None) -> None:
        if anchor is not None:
            if anchor.seq != start_seq - 1:
                raise ValueError("the anchor checkpoint must be at the seq before the first")
            self.report.from_checkpoint = anchor.number
            if not anchor.signed:
                self.findings.warn(
                    f"the trail starts at checkpoint #{anchor.number} (seq {anchor.seq}), "
                    "which is not signed: the head before it is taken on trust"
                )
        if anchor is None:
            self.walk.start(start_seq)
        else:
            self.walk.start(start_seq, anchor.head, anchor.streams() or ())
        self.checkpoints.start(start_seq)

    def finish(
        self,
        chain_head: ChainHead | None = None,
        *,
        end_seq: int | None = None,
        checkpoint_head: CheckpointHead | None = None,
    ) -> VerifyReport:
        self.walk.finish_range(end_seq)
        self.checkpoints.finish_head(checkpoint_head)
        self.walk.finish_head(chain_head)
        self.checkpoints.finish_warnings(self.now)
        return self.report
