"""Retention: move the oldest records to a verified bundle, then prune them.

``reaper audit archive --before DATE --to DIR`` keeps the store from growing
without end while the whole trail stays verifiable::

    bundle(s)  records 1..K, checkpoints 1..N    (N: signed, at seq K)
    store      checkpoint N, records K+1..head   (verify starts from N)

Invariants, in the order :func:`archive` keeps them:

* Only a prefix is archived (a chain has no holes), and it ends exactly at a
  **signed** checkpoint whose signature verifies with the configured key:
  that checkpoint stays in the store, and its head is what the first kept
  record must follow, so ``reaper audit verify`` proves the rest from it
  instead of trusting the first stored record.
* The prefix holds only records dated before DATE, and stops before the
  first record of a tombstone that is not finished (not ``complete`` nor
  ``refused``): whoever investigates an open cleanup finds all of it in the
  store. Records of a tombstone that finished are archived whole, with the
  prefix they sit in.
* The bundle is written (the export format), then verified from the files
  with the signing key's public half, and checked to hold exactly the
  prefix, before anything is deleted. Any failure deletes nothing.
* The delete is one transaction under the chain lock: the archive mark in
  ``audit_chain_head`` moves (the only thing the append-only triggers let a
  DELETE remove), the records and the checkpoints before N go, and a record
  saying what was archived where is appended to the chain, so the trail
  itself tells that it was pruned.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, func, select, update

from reaper.audit import export, keys
from reaper.audit.checkpoint import Archived, Checkpoint
from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.model import TombstoneState
from reaper.store import schema
from reaper.store.database import Database

R = schema.audit_records
C = schema.audit_checkpoints
H = schema.audit_chain_head
T = schema.tombstones

FINISHED = tuple(s.value for s in TombstoneState if s.final)


class ArchiveRefused(Exception):
    """Nothing was deleted: archiving now would leave the trail unprovable."""


@dataclass(frozen=True)
class Cut:
    """What may be archived before a date: records ``first``..``last`` up to ``checkpoint``.

    ``last`` is the newest record the rules allow (dated before the cut, no
    open tombstone); ``checkpoint`` the newest signed one at or before it, or
    ``None``. ``open_tombstone`` names the open tombstone that stopped the
    prefix, if one did.
    """

    before: dt.datetime
    archived: Archived
    last: int
    checkpoint: Checkpoint | None
    open_tombstone: str | None

    @property
    def first(self) -> int:
        return self.archived.seq + 1

    @property
    def records(self) -> int:
        return self.checkpoint.seq - self.archived.seq if self.checkpoint else 0


@dataclass(frozen=True)
class ArchiveResult:
    """What :func:`archive` did; ``bundle`` is ``None`` when there was nothing to archive."""

    cut: Cut
    bundle: str | None
    records: int
    checkpoints: int


def find_cut(
    audit: AuditRepository, db: Database, before: dt.datetime, public_key: Ed25519PublicKey
) -> Cut:
    """Where an archive before ``before`` would end (reads only); ``db`` is ``audit``'s."""
    archived = audit.archived()
    head = audit.head()
    with db.read("find where to archive the audit trail") as conn:
        newer = conn.execute(
            select(func.min(R.c.seq)).where(R.c.seq > archived.seq, R.c.recorded_at >= before)
        ).scalar_one()
        last = head.seq if newer is None else int(newer) - 1
        open_row = conn.execute(
            select(R.c.seq, R.c.tombstone_id)
            .where(
                R.c.seq > archived.seq,
                R.c.seq <= last,
                R.c.tombstone_id.in_(select(T.c.id).where(T.c.state.not_in(FINISHED))),
            )
            .order_by(R.c.seq)
            .limit(1)
        ).first()
        open_tombstone = None
        if open_row is not None:
            last, open_tombstone = int(open_row.seq) - 1, open_row.tombstone_id
        numbers = conn.execute(
            select(C.c.number)
            .where(C.c.seq > archived.seq, C.c.seq <= last, C.c.signature.is_not(None))
            .order_by(C.c.number.desc())
            .limit(20)
        ).all()
    checkpoint = None
    for (number,) in numbers:
        cp = next(audit.checkpoints(min_number=number, max_number=number), None)
        if cp is not None and _signed_by(cp, public_key):
            checkpoint = cp
            break
    return Cut(before, archived, last, checkpoint, open_tombstone)


def _signed_by(cp: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    return (
        cp.signature is not None
        and cp.key_id == keys.key_id(public_key)
        and keys.verify_signature(public_key, cp.body.encode("utf-8"), cp.signature)
    )


def nothing_to_archive(cut: Cut) -> str | None:
    """Why no record may be archived at ``cut`` (``None`` when some may): not an error."""
    if cut.last > cut.archived.seq:
        return None
    if cut.open_tombstone:
        return (
            f"the first record after seq {cut.archived.seq} belongs to tombstone "
            f"{cut.open_tombstone}, which is not finished"
        )
    return f"no record after seq {cut.archived.seq} is dated before {cut.before.isoformat()}"


def refusal(cut: Cut) -> str | None:
    """Why records that may be archived cannot be, safely (``None`` when they can)."""
    if cut.checkpoint is not None or nothing_to_archive(cut) is not None:
        return None
    return (
        f"no checkpoint signed by the configured key covers records {cut.first} to "
        f"{cut.last} (the archivable ones): a pruned trail must start at a signed "
        "checkpoint; wait for the next one ([audit] checkpoint_interval) or pass a later --before"
    )


def archive(
    trail: AuditTrail,
    before: dt.datetime,
    out_dir: str,
    *,
    operator: str,
    checkpoint_interval: float | None = None,
) -> ArchiveResult:
    """Archive and prune everything :func:`find_cut` allows; see the module docstring.

    Nothing to archive (see :func:`nothing_to_archive`) writes no bundle and
    is no error. Raises :class:`ArchiveRefused` (nothing deleted) and
    :class:`reaper.audit.export.BundleError` or ``OSError`` when the bundle
    cannot be written.
    """
    if trail.signer is None:
        raise ArchiveRefused(
            "[audit] signing_key_file is not set: a pruned trail must start at a signed "
            "checkpoint, and there is no key to check one with"
        )
    audit = trail.repository
    public_key = trail.signer.public_key
    cut = find_cut(audit, trail.store.db, before, public_key)
    why = refusal(cut)
    if why is not None:
        raise ArchiveRefused(why)
    if nothing_to_archive(cut) is not None:
        return ArchiveResult(cut, None, 0, 0)
    cp = cut.checkpoint
    assert cp is not None
    written = export.export_bundle(
        audit,
        out_dir,
        public_key=public_key,
        checkpoint_interval=checkpoint_interval,
        exported_by=operator,
        upto=cp,
    )
    _check_bundle(out_dir, cut, public_key, _count(trail.store.db, cut))
    _prune(trail, cut, os.path.abspath(out_dir), operator)
    return ArchiveResult(cut, out_dir, written.records, written.checkpoints)


def _count(db: Database, cut: Cut) -> int:
    """How many records the store holds in the cut (seqs have gaps in a trail in streams)."""
    cp = cut.checkpoint
    assert cp is not None
    with db.read("count the audit records to archive") as conn:
        query = select(func.count()).where(R.c.seq > cut.archived.seq, R.c.seq <= cp.seq)
        return int(conn.execute(query).scalar_one())


def _check_bundle(out_dir: str, cut: Cut, public_key: Ed25519PublicKey, records: int) -> None:
    """The bundle, read back from disk, proves exactly records ``first``..checkpoint."""
    cp = cut.checkpoint
    assert cp is not None
    report = export.verify_bundle(out_dir, public_key=public_key)
    where = f"the bundle in {out_dir}"
    if not report.ok:
        first = report.first_problem
        raise ArchiveRefused(
            f"{where} does not verify ({first.message if first else 'problems'}); "
            "nothing was deleted"
        )
    expected_first = cut.first
    if (
        report.records != records
        or report.last_seq != cp.seq
        or report.head != cp.head
        or (report.first_seq or expected_first) != expected_first
    ):
        raise ArchiveRefused(
            f"{where} holds records {report.first_seq} to {report.last_seq}, not "
            f"{expected_first} to {cp.seq}; nothing was deleted"
        )


def _prune(trail: AuditTrail, cut: Cut, bundle: str, operator: str) -> None:
    """Delete the archived prefix in one transaction, under the chain lock."""
    cp = cut.checkpoint
    assert cp is not None
    manifest = export.read_manifest(bundle)
    draft = trail.draft(
        action=AuditAction.DELETE,
        outcome=AuditOutcome.SUCCESS,
        target=AuditTarget("reaper.audit", f"records {cut.first}-{cp.seq}"),
        reason=f"archived to a verified bundle and pruned by {operator}",
        extra={"archive": _archive_fields(cut, bundle, manifest, operator)},
    )
    db = trail.store.db
    with db.write("prune archived audit records") as conn:
        row = conn.execute(
            select(H.c.archived_seq).where(H.c.id == schema.CHAIN_HEAD_ID).with_for_update()
        ).one()
        if int(row.archived_seq) != cut.archived.seq:
            raise ArchiveRefused(
                "another archive ran meanwhile (the trail now starts after seq "
                f"{row.archived_seq}); nothing was deleted by this one"
            )
        conn.execute(
            update(H)
            .where(H.c.id == schema.CHAIN_HEAD_ID)
            .values(archived_seq=cp.seq, archived_checkpoint=cp.number)
        )
        conn.execute(delete(R).where(R.c.seq > cut.archived.seq, R.c.seq <= cp.seq))
        conn.execute(delete(C).where(C.c.number < cp.number))
        trail.append_many([draft], conn=conn)


def _archive_fields(
    cut: Cut, bundle: str, manifest: dict[str, Any], operator: str
) -> dict[str, Any]:
    cp = cut.checkpoint
    assert cp is not None
    return {
        "before": cut.before,
        "from_seq": cut.first,
        "to_seq": cp.seq,
        "checkpoint": cp.number,
        "checkpoint_digest": cp.digest,
        "bundle": bundle,
        "records_sha256": (manifest.get("files") or {}).get(export.RECORDS),
        "operator": operator,
    }
