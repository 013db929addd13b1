"""The oslo.messaging listener: Keystone's notifications in, tombstones out.

reaper listens on exchange ``keystone``, topic ``notifications``
(``[listener]``) with a pool of its own (``[listener] pool``, default
``reaper``): oslo.messaging then binds a queue named
``notifications.info-reaper`` (``<topic>.<priority>-<pool>``) to Keystone's
``notifications.info`` routing key, so reaper never competes with other
consumers (ceilometer, a SIEM) for the shared ``notifications.info`` queue,
and several reaper controllers with the same pool share one queue as
competing consumers. The queue's durability and HA/quorum type follow the
``[oslo_messaging_rabbit]`` options (``amqp_durable_queues``,
``rabbit_quorum_queue``...), which must match those Keystone's own
notifier uses for the exchange: an exchange or queue declared with other
flags makes RabbitMQ refuse the declaration (PRECONDITION_FAILED).

A batch listener hands notifications over in batches; each batch is
persisted in one transaction (tombstones with their triggers, and one
``receive`` audit record per message) **before** the callback returns, and
the batch is acknowledged only after it returns (in one ``basic.ack`` once
no earlier delivery is in flight, ``acks.py``). A crash before
persistence means redelivery; a redelivery or a duplicate notification
finds the existing tombstone (deduplicated on (kind, id) and on
``message_id``), so it never means a second cleanup. If the store is
unreachable the batch is held, unacknowledged, and retried with backoff
until the store is back (``outage.py``): requeueing at once would spin
through a quorum queue's delivery limit in seconds and drop it. A stopping
listener requeues what it holds.

Anything malformed becomes an audited rejection and is acknowledged: it
would never parse better on redelivery. Every decoded message reaches the
endpoint (``dispatch.py``); messages the driver itself cannot decode are
dead-lettered to a queue reaper reads and audits (``deadletter.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import oslo_messaging
from oslo_config import cfg

from reaper import log
from reaper.audit.record import RecordDraft
from reaper.audit.trail import AuditTrail
from reaper.events import acks, coalesce, deadletter, dispatch, keystone, outage, receipts
from reaper.events.broker import broker_url
from reaper.model import IdentityEvent, Trigger, TriggerSource, utcnow
from reaper.store import Store, StoreError, TriggerResult
from reaper.store.directory import NOTIFICATION, Known

LOG = log.get(__name__)
__all__ = ["IdentityEndpoint", "Listener", "Reopener", "broker_url"]


class Reopener(Protocol):
    """Whether a new trigger reopens a finished tombstone (``reaper.cleanup.lifecycle``).

    Handed in, not imported: the rule belongs to the road, a floor above.
    """

    def may_reopen(self, result: TriggerResult) -> bool:
        """Whether there is anything to look at (no I/O)."""

    def reopen_if_needed(self, result: TriggerResult, event_type: str | None) -> bool:
        """Reopen if the rule says so; True if reopened."""


class IdentityEndpoint:
    """Receives batches of identity notifications and persists them.

    Every message handed over gets a ``receive`` record (``receipts.py``): a
    tombstone's trigger, a duplicate, or a rejection saying why (other services'
    well-formed notifications are filtered out before, see ``dispatch.py``).

    With a ``backoff`` (the controller's), a batch the store cannot take now
    is held and retried (``outage.py``) until the store is back or the
    listener stops; without one (``reaper replay``) it is requeued at once.
    """

    def __init__(
        self,
        store: Store,
        trail: AuditTrail,
        *,
        reopener: Reopener,
        rules: keystone.Rules = keystone.DEFAULT_RULES,
        on_recorded: Callable[[], None] = lambda: None,
        metrics: Any = None,
        backoff: outage.Backoff | None = None,
    ) -> None:
        self.holder = outage.Holder(backoff)
        self.store = store
        self.trail = trail
        self.reopener = reopener
        self.rules = rules
        self.on_recorded = on_recorded
        self.metrics = metrics
        #: Batches that arrive while one is being written are persisted together.
        self.coalescer = coalesce.Coalescer(self.persist, propagate=outage.WAITED_OUT)

    def info(self, messages: Sequence[dict[str, Any]]) -> Any:
        try:
            return self.holder.record(len(messages), lambda: self._record(messages))
        except outage.Released:
            return self._requeue(messages, None)
        except outage.WAITED_OUT as exc:
            return self._requeue(messages, exc)

    def _record(self, messages: Sequence[dict[str, Any]]) -> Any:
        """HANDLED once recorded; raises what :data:`outage.WAITED_OUT` names."""
        try:
            self.coalescer.persist(messages)
        except outage.WAITED_OUT:
            raise
        except (StoreError, ValueError) as exc:
            # The database is there but refused something in the batch: find what.
            LOG.warning(
                "the store refused a batch; recording it message by message", error=str(exc)
            )
            return self._one_by_one(messages)
        return oslo_messaging.NotificationResult.HANDLED

    def _requeue(self, messages: Sequence[dict[str, Any]], exc: Exception | None) -> Any:
        if exc is None:
            LOG.warning("listener stopping: held notifications requeued", count=len(messages))
        else:
            LOG.error("store unavailable: notifications requeued", error=str(exc))
        if self.metrics is not None:
            self.metrics.notification("*", "requeued", len(messages))
        return oslo_messaging.NotificationResult.REQUEUE

    def _one_by_one(self, messages: Sequence[dict[str, Any]]) -> Any:
        """Persist each message alone; one the store refuses twice is audited and dropped.

        :func:`keystone.parse` bounds every field reaper stores, so this is
        the net under it: without it, one message the database refuses for
        a reason nobody foresaw fails its batch, which is requeued and fails
        again, forever, and every notification behind it waits (issue 13,
        item 13). A message is given up only when it fails alone twice
        while the store accepts the record saying so, so an outage is
        never mistaken for a poisonous message.

        It raises what :data:`outage.WAITED_OUT` names, as :meth:`info`'s
        caller holds the whole batch then: what was recorded before is found
        again (deduplicated on ``message_id``) when it is retried.
        """
        for message in messages:
            for attempt in (1, 2):
                try:
                    self.persist([message])
                    break
                except outage.WAITED_OUT:
                    raise
                except (StoreError, ValueError) as exc:
                    if attempt == 2:
                        try:
                            self._unstorable(message, exc)
                        except outage.WAITED_OUT:
                            raise
                        except StoreError as audit_error:
                            return self._requeue(messages, audit_error)
        return oslo_messaging.NotificationResult.HANDLED

    def _unstorable(self, message: dict[str, Any], exc: Exception) -> None:
        metadata = message.get("metadata")
        message_id = metadata.get("message_id") if isinstance(metadata, dict) else None
        event_type = message.get("event_type")
        rejected = keystone.MalformedNotification(
            f"the store refused it: {type(exc).__name__}: {exc}",
            event_type=event_type if isinstance(event_type, str) else None,
        )
        rejected.message_ref = keystone.message_ref(message_id)
        self.trail.append_many([receipts.rejection(self.trail, rejected, code="unstorable")])
        LOG.error("a notification the store refuses was audited and dropped", error=str(exc))
        if self.metrics is not None:
            self.metrics.notification(rejected.event_type or "?", "rejected_unstorable")

    # Keystone notifies at INFO; anything else is still an identity event worth recording.
    warn = error = audit = critical = debug = sample = info

    def persist(self, messages: Sequence[dict[str, Any]]) -> None:
        """Record every message of the batch: its tombstones and audit records, in one commit.

        One transaction, so a tombstone never exists without the record of
        the notification that opened it, and a batch costs one commit. The
        exception is a batch that touches a finished tombstone: whether it
        reopens is decided (and done) between the two writes, so such a
        batch commits its triggers first and its audit records after.
        """
        received_at = utcnow()
        # Creations only fill the directory of identities seen alive (never a tombstone).
        alive = {
            i: keystone.seen_alive(m.get("event_type"), m.get("payload"), rules=self.rules)
            for i, m in enumerate(messages)
        }
        created = [ref for ref in alive.values() if ref is not None]
        messages = [m for i, m in enumerate(messages) if alive[i] is None]
        parsed = [self._classify(m) for m in messages]
        triggers = {
            i: Trigger(
                source=TriggerSource.NOTIFICATION,
                event_type=item.event_type,
                message_id=item.message_id,
                initiator=item.initiator,
                received_at=received_at,
            )
            for i, item in enumerate(parsed)
            if isinstance(item, IdentityEvent)
        }
        pairs = [(parsed[i].identity, trigger) for i, trigger in triggers.items()]  # type: ignore[union-attr]
        reopened: set[str] = set()
        drafts: list[tuple[RecordDraft, str, str]] = []
        with self.store.db.write("record notifications") as conn:
            self.store.directory.record(
                [Known(ref, None) for ref in created], source=NOTIFICATION, conn=conn
            )
            recorded = self.store.tombstones.record_triggers(pairs, conn=conn)
            by_index = dict(zip(triggers, recorded, strict=True))
            results = [(item, triggers.get(i), by_index.get(i)) for i, item in enumerate(parsed)]
            finished = any(r is not None and self.reopener.may_reopen(r) for _, _, r in results)
            if not finished:
                drafts = receipts.drafts(self.trail, results, reopened, received_at=received_at)
                self.trail.append_many([d for d, _, _ in drafts], conn=conn)
        if finished:
            reopened = {
                result.tombstone.id
                for item, _, result in results
                if result is not None
                and isinstance(item, IdentityEvent)
                and self.reopener.reopen_if_needed(result, item.event_type)
            }
            drafts = receipts.drafts(self.trail, results, reopened, received_at=received_at)
            self.trail.append_many([d for d, _, _ in drafts])
        if self.metrics is not None:
            for ref in created:
                self.metrics.notification(f"identity.{ref.kind.value}.created", "seen_alive")
            for _, event_type, outcome in drafts:
                self.metrics.notification(event_type, outcome)
        if reopened or any(r is not None and r.created for _, _, r in results):
            self.on_recorded()

    def _classify(self, message: dict[str, Any]) -> IdentityEvent | keystone.Rejected:
        metadata = message.get("metadata")
        problem = dispatch.priority_problem(message)
        if problem is not None:
            event_type = message.get("event_type")
            rejected = keystone.MalformedNotification(
                problem, event_type=event_type if isinstance(event_type, str) else None
            )
            rejected.message_ref = keystone.message_ref(
                metadata.get("message_id") if isinstance(metadata, dict) else None
            )
            return rejected
        return keystone.classify(
            message.get("ctxt"),
            message.get("publisher_id"),
            message.get("event_type"),
            message.get("payload"),
            metadata,
            rules=self.rules,
        )


class Listener:
    """Owns the oslo.messaging notification server."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        endpoint: IdentityEndpoint | None = None,
        *,
        consume: bool = True,
    ) -> None:
        """A listener for ``endpoint``; without one (``consume=False``) it declares only."""
        self.conf = conf
        self.endpoint = endpoint
        self.transport = oslo_messaging.get_notification_transport(conf)
        targets = [
            oslo_messaging.Target(exchange=conf.listener.exchange, topic=topic)
            for topic in conf.listener.topics
        ]
        # What get_batch_notification_listener builds, with reaper's total dispatcher,
        # acknowledging a batch in one frame once it is safe (``acks.py``).
        self.server = acks.BatchServer(
            self.transport,
            targets,
            dispatch.Dispatcher(endpoint or _Declaring(), consume=consume and endpoint is not None),
            "threading",
            True,
            conf.listener.pool,
            conf.listener.batch_size,
            conf.listener.batch_timeout,
        )
        # Registered by the server above; the pool is created when it starts.
        conf.set_override("executor_thread_pool_size", conf.listener.executor_threads)
        #: Whether the pool queue dead-letters what the driver drops (``deadletter.py``);
        #: decided when the queue is first declared.
        self.dead_letter = deadletter.register(conf.listener.pool, wanted=conf.listener.dead_letter)
        self._started = False

    @property
    def dead_lettering(self) -> bool:
        """The pool queue sends what the driver rejects to ``<pool>.dead-letter``."""
        return self.dead_letter.enabled is True

    def start(self, *, bound_timeout: float = 60.0) -> bool:
        """Start consuming; return once reaper's queue exists on the broker (True), or not.

        oslo.messaging declares the queue in its polling thread, a moment
        after ``start()`` returns. A deletion published in that moment would
        reach only the queues that already exist, so the controller is not
        ready until its own queue is there.
        """
        if self.endpoint is not None:
            self.endpoint.holder.released.clear()
        self.server.start()
        self._started = True
        bound = self.wait_bound(bound_timeout)
        if not bound:
            LOG.warning(
                "could not confirm that the listener queue exists",
                queue=self.conf.listener.pool,
                timeout=bound_timeout,
            )
        return bound

    def wait_bound(self, timeout: float) -> bool:
        """Whether the pool's queue exists (passive declare), waiting up to ``timeout``.

        It may exist already, from before: the wait is for this listener's
        declaration, which first decides whether it dead-letters.
        """
        import kombu

        url = broker_url(self.conf)
        if url is None:
            return False
        deadline = time.monotonic() + timeout
        if not self.dead_letter.decided.wait(timeout):
            return False
        while time.monotonic() < deadline:
            try:
                with kombu.Connection(url, connect_timeout=5) as connection:
                    channel = connection.channel()
                    channel.queue_declare(queue=self.conf.listener.pool, passive=True)
                    return True
            except Exception:  # not declared yet (404 closes the channel), or broker busy
                time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Stop consuming; what the endpoint holds for the store goes back to the queue first.

        ``server.wait()`` waits for every callback to return: a batch held
        through a store outage would make it wait for the store.
        """
        if self.endpoint is not None:
            self.endpoint.holder.release()
        if self._started:
            self.server.stop()
            self.server.wait()
            self._started = False
        self.transport.cleanup()
        deadletter.unregister(self.conf.listener.pool)

    @property
    def running(self) -> bool:
        return self._started


class _Declaring:
    """The endpoint of a listener that only declares: it has every priority, and no say."""

    def info(self, messages: Any) -> Any:
        return oslo_messaging.NotificationResult.REQUEUE

    warn = error = audit = critical = debug = sample = info
