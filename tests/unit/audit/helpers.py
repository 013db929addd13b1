"""Building blocks for audit tests: deterministic records, chains and checkpoints."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reaper import canonical
from reaper.audit import chain, checkpoint
from reaper.audit.chain import ChainHead, ChainRecord
from reaper.audit.checkpoint import Checkpoint, CheckpointHead
from reaper.audit.keys import Signer
from reaper.audit.record import Actor, AuditTarget, RecordDraft, build

INITIATOR = Actor.service_user(name="reaper")
OBSERVER = Actor.instance("test-host")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def draft(i: int, *, target_id: str | None = None, action: str = "delete") -> RecordDraft:
    """The i-th record of a test trail: same input, same bytes."""
    return build(
        action=action,
        outcome="success",
        target=AuditTarget("compute.server", target_id or f"server-{i}", project_id="p1"),
        initiator=INITIATOR,
        observer=OBSERVER,
        reason="project deleted",
        tombstone_id="tomb-1",
        event_time=T0 + dt.timedelta(seconds=i),
        event_id=str(uuid.UUID(int=i)),
    )


def make_chain(n: int, *, head: ChainHead | None = None) -> list[ChainRecord]:
    start = head or ChainHead()
    return chain.seal(start, [draft(start.seq + i + 1) for i in range(n)])


def tip(records: Sequence[ChainRecord]) -> ChainHead:
    return chain.tip(ChainHead(), records)


def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def checkpoints_at(
    records: Sequence[ChainRecord], seqs: Sequence[int], key: Signer | None
) -> list[Checkpoint]:
    """Checkpoints written after the records with these seqs (0 = the empty chain)."""
    out: list[Checkpoint] = []
    previous = CheckpointHead()
    by_seq = {r.seq: r for r in records}
    for i, seq in enumerate(seqs):
        head = ChainHead() if seq == 0 else ChainHead(seq, by_seq[seq].head)
        cp = checkpoint.make(
            head,
            previous,
            observer="test-host",
            reason="interval",
            signer=key,
            now=T0 + dt.timedelta(minutes=i),
        )
        out.append(cp)
        previous = CheckpointHead(cp.number, cp.digest)
    return out


def edit_body(rec: ChainRecord, change: Callable[[dict[str, Any]], None]) -> ChainRecord:
    """``rec`` with its body changed, its stored digests left as they were."""
    body = json.loads(rec.body)
    change(body)
    return rec._replace(body=canonical.dumps(body).decode("utf-8"))


def reseal_from(records: list[ChainRecord], index: int) -> list[ChainRecord]:
    """Recompute every digest from ``index`` on, as an attacker without the key would."""
    out = list(records[:index])
    prev = out[-1].head if out else chain.GENESIS
    for rec in records[index:]:
        rh = chain.record_hash(rec.body)
        head = chain.next_head(prev, rh)
        out.append(rec._replace(record_hash=rh, prev_head=prev, head=head))
        prev = head
    return out


def forged_after(records: Sequence[ChainRecord], seq: int) -> ChainRecord:
    """A well-formed record numbered ``seq``, correctly linked after record ``seq - 1``."""
    prev = ChainHead() if seq == 1 else ChainHead(seq - 1, records[seq - 2].head)
    return chain.seal(prev, [draft(10_000 + seq, target_id="forged")])[0]
