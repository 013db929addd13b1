"""Is Barbican's keystone listener deployed? Asked once when the controller starts.

reaper cannot enumerate a deleted project's Barbican secrets, containers or
orders (Barbican lists only the caller's own project's, even to an admin;
doc/policies.md), so it never pretends to cover them. Barbican's own keystone
listener is what deletes them when Keystone deletes the project. Whether that
runs is therefore worth an operator's attention, and the controller reports,
in its log and in ``reaper_barbican_keystone_listener{state}``, one of:

* ``no_barbican``: the catalog has no ``key-manager`` service; nothing is left
  behind there;
* ``running``: the listener's queue (``[listener] barbican_listener_queue``,
  the ``pool_name`` of Barbican's ``[keystone_notifications]``) exists on the
  broker reaper listens on, with at least one consumer;
* ``absent``: that queue does not exist or nobody consumes it: a deleted
  project's secrets stay (logged as a warning);
* ``unknown``: Barbican runs but no queue is configured, or the catalog or
  the broker could not be asked (a warning too).

Why the broker and not a configuration flag: a consumer on the listener's
queue is evidence that the listener runs now, where a flag would only repeat
what someone believed when they wrote it; the catalog alone says Barbican
exists, not that its listener does. The queue is looked up with a passive
declare, which creates nothing. A listener without a pool shares Keystone's
``notifications.info`` queue with every other consumer, where it cannot be
told apart: hence ``unknown`` until the queue is configured.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from reaper import log

LOG = log.get(__name__)


class ListenerState(str, enum.Enum):
    NO_BARBICAN = "no_barbican"
    RUNNING = "running"
    ABSENT = "absent"
    UNKNOWN = "unknown"


def judge(
    has_barbican: Callable[[], bool],
    consumers: Callable[[str], int | None],
    queue: str,
) -> tuple[ListenerState, str]:
    """The state, and why. ``consumers(queue)``: its consumer count, None if no such queue."""
    try:
        if not has_barbican():
            return ListenerState.NO_BARBICAN, "no key-manager service in the catalog"
    except Exception as exc:
        return ListenerState.UNKNOWN, f"the catalog could not be read: {exc}"
    if not queue:
        return ListenerState.UNKNOWN, (
            "Barbican runs, and [listener] barbican_listener_queue is not set: set it to the "
            "pool_name of Barbican's [keystone_notifications] so reaper can look for it"
        )
    try:
        count = consumers(queue)
    except Exception as exc:
        return ListenerState.UNKNOWN, f"the broker could not be asked about {queue}: {exc}"
    if count is None:
        return ListenerState.ABSENT, f"no queue {queue} on the broker"
    if count < 1:
        return ListenerState.ABSENT, f"queue {queue} has no consumer"
    return ListenerState.RUNNING, f"queue {queue} has {count} consumer(s)"


def queue_consumers(url: str) -> Callable[[str], int | None]:
    """A probe of the broker at ``url``: a queue's consumer count, None when it does not exist."""

    def probe(queue: str) -> int | None:
        import amqp.exceptions
        import kombu

        with kombu.Connection(url, connect_timeout=10) as conn:
            try:
                _, _, count = conn.channel().queue_declare(queue=queue, passive=True)
            except amqp.exceptions.NotFound:
                return None
            return int(count)

    return probe


def check(
    connection: Callable[[], Any],
    broker: str | None,
    queue: str,
    report: Callable[[ListenerState], None],
) -> ListenerState:
    """Judge, log and report the listener's state (the controller's start-up check)."""
    probe = queue_consumers(broker) if broker else _no_broker
    state, why = judge(lambda: bool(connection().has_service("key-manager")), probe, queue)
    report(state)
    if state in (ListenerState.ABSENT, ListenerState.UNKNOWN):
        LOG.warning(
            "Barbican's keystone listener: a deleted project's secrets may stay "
            "(reaper cannot list them)",
            state=state.value,
            reason=why,
        )
    else:
        LOG.info("Barbican's keystone listener", state=state.value, reason=why)
    return state


def _no_broker(queue: str) -> int | None:
    raise RuntimeError("the transport is not RabbitMQ, which is the only broker reaper can ask")
