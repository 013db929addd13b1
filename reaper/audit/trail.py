"""The API the pipeline uses to record what it does.

One :class:`AuditTrail` per process, built from the configuration::

    trail = AuditTrail.from_conf(store, conf)
    trail.append(
        action=AuditAction.DELETE,
        outcome=AuditOutcome.SUCCESS,
        target=AuditTarget.for_resource(server),
        reason=AuditReason.policy_match("default", "orphaned-servers", "project deleted"),
        tombstone_id=tombstone.id,
        plan_hash=plan.content_hash,
        step_id=step.id,
        before=server,              # the before-image: attributes at decision time
    )
    with trail.batch() as batch:    # several records, one transaction
        for decision in decisions:
            batch.append(action=AuditAction.EVALUATE, ...)
    trail.end_tombstone(tombstone.id)   # a signed checkpoint closes each tombstone

Records are validated (CADF) when built, in the caller's thread; only the
sealing and the insert happen under the chain lock, and appends that threads
make at the same time share one transaction (``groupcommit.py``). The trail owns its
records: ``trail.repository`` is the one :class:`AuditRepository` over the
store's database (the store itself does not expose the chain). A failed append raises
:class:`reaper.store.StoreUnavailable` and nothing of it is in the chain.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from oslo_config import cfg
from sqlalchemy.engine import Connection

from reaper import log
from reaper.audit import checkpoint as checkpoints
from reaper.audit import keys
from reaper.audit.chain import ChainRecord, Sealable
from reaper.audit.checkpoint import Checkpoint, CheckpointReason
from reaper.audit.groupcommit import GroupCommit
from reaper.audit.publish import Publisher
from reaper.audit.record import (
    Actor,
    AuditAction,
    AuditOutcome,
    AuditReason,
    AuditTarget,
    RecordDraft,
    Shared,
    build,
)
from reaper.audit.repository import AuditRepository
from reaper.model import Resource, Trigger, utcnow
from reaper.store import Store

LOG = log.get(__name__)


def load_signer(conf: cfg.ConfigOpts) -> keys.Signer | None:
    """The configured checkpoint key; ``None``, with a warning, when there is none.

    A configured key that cannot be loaded is an error: the operator asked
    for signatures, and silently writing unsigned checkpoints would hide it.
    """
    path = conf.audit.signing_key_file
    if not path:
        log.advise(
            LOG,
            "audit checkpoints will be unsigned: [audit] signing_key_file is not set. "
            "The chain still detects edits, but not a wholesale replacement of the trail; "
            "create a key with 'reaper audit keygen'.",
        )
        return None
    return keys.load_signer(path)


def service_identity(conf: cfg.ConfigOpts) -> Actor:
    """Reaper's Keystone identity as configured, the initiator of its records."""
    creds = conf.service_credentials
    user_id = getattr(creds, "user_id", None)
    name = getattr(creds, "username", None) or creds.cloud or "reaper"
    return Actor.service_user(user_id=user_id, name=name)


class AuditTrail:
    def __init__(
        self,
        store: Store,
        *,
        initiator: Actor,
        observer: Actor,
        signer: keys.Signer | None = None,
        publisher: Publisher | None = None,
        streams: int = 1,
    ) -> None:
        self.store = store
        #: ``streams`` > 1 lets processes append side by side (``streams.py``).
        self.repository = AuditRepository(store.db, streams=streams)
        #: Appends of this process's threads share transactions (``groupcommit.py``).
        self.group = GroupCommit(self.repository.append)
        self.initiator = initiator
        self.observer = observer
        self.signer = signer
        #: Where each checkpoint is published outside the database (``publish.py``).
        self.publisher = publisher or Publisher()

    @classmethod
    def from_conf(cls, store: Store, conf: cfg.ConfigOpts) -> AuditTrail:
        return cls(
            store,
            initiator=service_identity(conf),
            observer=Actor.instance(conf.host),
            signer=load_signer(conf),
            publisher=Publisher.from_conf(conf),
            streams=conf.audit.streams,
        )

    # -- records ---------------------------------------------------------

    def draft(
        self,
        *,
        action: AuditAction | str,
        outcome: AuditOutcome | str,
        target: AuditTarget,
        reason: AuditReason | str | None = None,
        tombstone_id: str | None = None,
        plan_id: str | None = None,
        plan_hash: str | None = None,
        step_id: str | None = None,
        trigger: Trigger | None = None,
        before: Resource | Mapping[str, Any] | None = None,
        before_sha256: str | None = None,
        extra: Mapping[str, Any] | None = None,
        event_time: dt.datetime | None = None,
        actor_ids: bool = False,
        shared: Shared | None = None,
        event_id: str | None = None,
    ) -> RecordDraft:
        """A validated record with this trail's initiator and observer, not yet appended.

        ``shared``: for records built together (``record.Shared``); ``event_id``
        the record's CADF id, when the caller chose it (a fresh UUID otherwise).
        """
        return build(
            action=action,
            outcome=outcome,
            target=target,
            initiator=self.initiator,
            observer=self.observer,
            reason=reason,
            tombstone_id=tombstone_id,
            plan_id=plan_id,
            plan_hash=plan_hash,
            step_id=step_id,
            trigger=trigger,
            before=before,
            before_sha256=before_sha256,
            extra=extra,
            event_time=event_time,
            actor_ids=actor_ids,
            shared=shared,
            event_id=event_id,
        )

    def append(self, **fields: Any) -> ChainRecord:
        """Append one record (the keyword arguments of :meth:`draft`); returns it sealed."""
        return self.group.append([self.draft(**fields)])[0]

    def append_many(
        self, drafts: Sequence[Sealable], *, conn: Connection | None = None
    ) -> list[ChainRecord]:
        """Append ``drafts`` in order, in one transaction (``conn``'s, if given).

        Without ``conn``, the transaction may also hold other threads' appends
        made meanwhile (group commit); ``drafts`` stay contiguous and in order.
        """
        if conn is not None:
            return self.repository.append(drafts, conn=conn)
        return self.group.append(drafts)

    @contextlib.contextmanager
    def batch(self) -> Iterator[Batch]:
        """Collect records and append them together when the block ends without error.

        If the block raises, nothing is appended: a batch is all or nothing,
        like the transaction it becomes.
        """
        batch = Batch(self)
        yield batch
        batch.sealed = self.append_many(batch.drafts)

    # -- checkpoints -----------------------------------------------------

    def checkpoint(
        self, reason: str = CheckpointReason.MANUAL, *, tombstone_id: str | None = None
    ) -> Checkpoint:
        """Write a checkpoint of the chain as it is now (signed if a key is configured).

        Once committed it is published to the configured sinks; a sink that
        fails is logged and does not undo the checkpoint.
        """
        # Dated under the chain lock, so checkpoint times follow their numbers.
        cp = self.repository.append_checkpoint(
            lambda head, previous: checkpoints.make(
                head,
                previous,
                observer=self.observer.name,
                reason=reason,
                signer=self.signer,
                tombstone_id=tombstone_id,
                now=utcnow(),
            )
        )
        self.publisher.publish(cp)
        return cp

    def end_tombstone(self, tombstone_id: str) -> Checkpoint:
        """The checkpoint that closes a tombstone's work (whatever its outcome)."""
        return self.checkpoint(CheckpointReason.TOMBSTONE, tombstone_id=tombstone_id)


class Batch:
    """Records collected by :meth:`AuditTrail.batch`; ``sealed`` is filled on exit."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail
        self.drafts: list[RecordDraft] = []
        self.sealed: list[ChainRecord] = []

    def append(self, **fields: Any) -> RecordDraft:
        draft = self._trail.draft(**fields)
        self.drafts.append(draft)
        return draft

    def add(self, draft: RecordDraft) -> None:
        self.drafts.append(draft)
