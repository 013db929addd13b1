"""Checkpoints: signed statements "the chain had ``head`` at ``seq`` at ``time``".

A checkpoint is written at the end of each tombstone and every
``[audit] checkpoint_interval`` seconds, also when nothing happened: a chain
that stops growing while checkpoints keep coming is a quiet cloud, while
records missing after a checkpoint's ``seq`` are a truncation. Checkpoints
are themselves chained (``prev`` is the digest of the previous one), so
removing one in the middle is visible too.

A trail written in several streams (``chain.py``) gets checkpoints that
also name every stream: ``streams`` is a list of ``[stream, pos, seq, head]``,
``seq`` the highest seq of them and ``head`` their :func:`chain.merged_head`.
Signing it signs each stream's end, so a record removed or altered in any
stream, a stream cut short or a stream dropped is seen against it. A trail
that is one chain gets checkpoints exactly as before streams.

Pure values and signing; the store writes them under every stream's lock so
``seq``/``head`` is always a committed position.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from reaper import canonical
from reaper.audit.chain import ChainHead, StreamHead
from reaper.audit.keys import Signer

TYPE = "reaper-audit-checkpoint/1"


class CheckpointReason:
    """Why a checkpoint was written (free text is allowed; these are reaper's)."""

    TOMBSTONE = "tombstone"
    INTERVAL = "interval"
    EXPORT = "export"
    MANUAL = "manual"
    START = "start"
    STOP = "stop"


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as stored: its columns, the exact signed body and signature."""

    number: int
    seq: int
    head: str
    created_at: dt.datetime
    reason: str
    tombstone_id: str | None
    key_id: str | None
    body: str
    digest: str
    signature: str | None

    def streams(self) -> tuple[StreamHead, ...] | None:
        """The streams the signed body names; ``()`` for one chain, ``None`` if unreadable."""
        try:
            data = self.payload()
            listed = data.get("streams") or []
            return tuple(StreamHead(*(int(v) for v in s[:3]), str(s[3])) for s in listed)
        except (ValueError, TypeError, IndexError, KeyError):
            return None

    @property
    def signed(self) -> bool:
        return self.signature is not None

    def payload(self) -> dict[str, Any]:
        """The signed body, parsed."""
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise ValueError("checkpoint body is not an object")
        return data


@dataclass(frozen=True)
class Archived:
    """Where a pruned trail starts (``reaper audit archive``): 0 and 0 when nothing was.

    Records up to ``seq`` are in bundles, not in the store; checkpoint
    ``checkpoint`` (signed, at ``seq``) is the first one kept, and vouches for
    the head the first stored record follows.
    """

    seq: int = 0
    checkpoint: int = 0


@dataclass(frozen=True)
class CheckpointHead:
    """The last checkpoint's number and digest (0 and ``None`` before the first)."""

    number: int = 0
    digest: str | None = None


def make(
    chain: ChainHead,
    previous: CheckpointHead,
    *,
    observer: str,
    reason: str,
    signer: Signer | None,
    tombstone_id: str | None = None,
    now: dt.datetime,
) -> Checkpoint:
    """The checkpoint that follows ``previous`` for the chain at ``chain``."""
    key_id = signer.key_id if signer else None
    payload = {
        "type": TYPE,
        "number": previous.number + 1,
        "seq": chain.seq,
        "head": chain.head,
        "time": now,
        "observer": observer,
        "reason": reason,
        "tombstone_id": tombstone_id,
        "prev": previous.digest,
        "key_id": key_id,
    }
    if chain.streams:
        payload["streams"] = [list(s) for s in chain.streams]
    body = canonical.dumps(payload)
    return Checkpoint(
        number=previous.number + 1,
        seq=chain.seq,
        head=chain.head,
        created_at=now,
        reason=reason,
        tombstone_id=tombstone_id,
        key_id=key_id,
        body=body.decode("utf-8"),
        digest=canonical.sha256_hex(body),
        signature=signer.sign(body) if signer else None,
    )
