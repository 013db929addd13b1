"""A batch's messages acknowledged with one ``basic.ack``, once nothing before them is in flight.

oslo.messaging's batch server acknowledges a batch message by message: each
``acknowledge()`` queues one ``basic.ack`` for the listener's polling
thread, which writes it to the socket between its reads. At the rates the
intake drains a backlog that is a fifth of the polling thread's time, and
each write gives up the GIL to a persisting thread that may keep it for a
switch interval: the polling thread is what bounds the intake, so the acks
were a good part of why reaper drained slower than a no-op listener.

AMQP's ``basic.ack`` with ``multiple`` acknowledges every delivery on the
channel up to its tag. :class:`Acks` sends one when it is safe: the tags of
each batch are noted in the polling thread when the batch is handed over
(deliveries are handed over in the order the channel numbered them), and
when a batch's callback has returned, its tags become *ready*; the polling
thread then acknowledges, with one ``basic.ack(multiple)``, the ready tags
below the lowest tag still in flight. A batch that finishes before an
earlier one waits for it, and both go in one ack. Requeued messages are
rejected one by one, as before, and leave the in-flight set only once the
reject is written, so an ack never covers them.

Invariants: no message is acknowledged before its batch's callback returned
(the endpoint's commit comes first, the rule the listener keeps); a tag is
acknowledged or rejected once; what the driver rejected itself (a message it
cannot decode) was never handed over, so an ack covering its tag changes
nothing. Messages of another driver (no kombu message behind them) are
acknowledged one by one, as oslo.messaging does.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from oslo_messaging.notify import listener as notify_listener

from reaper import log
from reaper.events import readahead

LOG = log.get(__name__)

#: (the channel's id, the delivery tag) of a message.
Key = tuple[int, int]


def _raw(message: Any) -> Any:
    """The kombu message behind an AMQP driver's incoming message, or ``None``."""
    raw = getattr(getattr(message, "message", None), "_raw_message", None)
    if (
        raw is None
        or getattr(raw, "channel", None) is None
        or not isinstance(getattr(raw, "delivery_tag", None), int)
        or getattr(message, "_message_operations_handler", None) is None
        or getattr(getattr(message, "listener", None), "msg_id_cache", None) is None
    ):
        return None
    return raw


class Acks:
    """Which handed-over deliveries are in flight, and the acks that are safe to send."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: channel id -> tags handed over whose batch has not returned (or not been rejected).
        self._flying: dict[int, set[int]] = {}
        #: channel id -> tag -> kombu message: returned, not yet acknowledged.
        self._ready: dict[int, dict[int, Any]] = {}
        #: ``basic.ack`` frames sent, and messages they acknowledged (for tests and benches).
        self.frames = 0
        self.acknowledged = 0

    def handed_over(self, incoming: Iterable[Any]) -> None:
        """Note a batch's deliveries (the polling thread, before the batch is processed)."""
        with self._lock:
            for message in incoming:
                raw = _raw(message)
                if raw is not None:
                    self._flying.setdefault(id(raw.channel), set()).add(raw.delivery_tag)

    def settle(self, acked: Sequence[Any], requeued: Sequence[Any]) -> None:
        """A batch's callback returned: these are to be acknowledged, those requeued.

        The frames are sent later by the polling thread (the driver is not
        thread safe): rejects first, in the order they were asked for, then
        whatever acks became safe.
        """
        handler = None
        rejected: list[Key] = []
        for message in requeued:
            raw = _raw(message)
            _requeue(message)
            if raw is not None:
                rejected.append((id(raw.channel), raw.delivery_tag))
                handler = message._message_operations_handler
        ready: list[tuple[Any, Any]] = []
        for message in acked:
            raw = _raw(message)
            if raw is None:
                _acknowledge(message)
            else:
                ready.append((message, raw))
                handler = message._message_operations_handler
        if handler is None:
            return
        with self._lock:
            for message, raw in ready:
                channel = id(raw.channel)
                self._flying.get(channel, set()).discard(raw.delivery_tag)
                self._ready.setdefault(channel, {})[raw.delivery_tag] = raw
                # What acknowledge() does: a redelivery of it is then known as a duplicate.
                message.listener.msg_id_cache.add(message.unique_id)
        handler.do(functools.partial(self.flush, rejected))

    def flush(self, rejected: Sequence[Key] = ()) -> None:
        """Send the acks that are safe now (in the polling thread, as a queued operation)."""
        with self._lock:
            for channel, tag in rejected:
                self._flying.get(channel, set()).discard(tag)
            due: list[tuple[Any, int]] = []
            for channel, ready in list(self._ready.items()):
                flying = self._flying.get(channel)
                floor = min(flying) if flying else None
                tags = [t for t in ready if floor is None or t < floor]
                if tags:
                    top = max(tags)
                    due.append((ready[top], len(tags)))
                    for tag in tags:
                        del ready[tag]
                if not ready:
                    del self._ready[channel]
                if not flying:
                    self._flying.pop(channel, None)
        for raw, count in due:
            try:
                raw.ack(multiple=True)
            except Exception as exc:  # the connection is gone: the broker redelivers them
                LOG.warning("failed to acknowledge received messages", error=str(exc), count=count)
            else:
                self.frames += 1
                self.acknowledged += count

    @property
    def in_flight(self) -> int:
        """Deliveries handed over and not yet returned or rejected."""
        with self._lock:
            return sum(len(tags) for tags in self._flying.values())


def _acknowledge(message: Any) -> None:
    try:
        message.acknowledge()
    except Exception:
        LOG.exception("failed to acknowledge a message")


def _requeue(message: Any) -> None:
    try:
        message.requeue()
    except Exception:
        LOG.exception("failed to requeue a message")


class BatchServer(notify_listener.BatchNotificationServer):
    """oslo.messaging's batch notification server, acknowledging through :class:`Acks`.

    Its connection's socket is read a few kilobytes at a time (``readahead.py``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acks = Acks()

    def _on_incoming(self, incoming: Any) -> None:
        # The polling thread, in delivery order: noted before any executor thread sees it.
        self.acks.handed_over(incoming)
        readahead.ensure(self)
        super()._on_incoming(incoming)

    def _process_incoming(self, incoming: Any) -> None:
        try:
            not_processed = self.dispatcher.dispatch(incoming)
        except Exception:
            not_processed = set(incoming)
            LOG.exception("exception during messages handling")
        back = [m for m in incoming if m in not_processed and self._allow_requeue]
        gone = [m for m in incoming if not (m in not_processed and self._allow_requeue)]
        self.acks.settle(gone, back)
