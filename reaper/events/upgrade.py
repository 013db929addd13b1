"""Converting the pool queue to or from dead-lettering, without losing a message.

RabbitMQ never changes a queue's arguments, and refuses a declaration that
differs (``PRECONDITION_FAILED``): a pool queue an older reaper declared
stays without a dead-letter exchange until it is replaced. ``reaper queue
declare`` replaces it, in steps that keep every notification in some bound
queue at every moment:

1. a holding queue ``<pool>.upgrade`` is bound like the pool queue, so every
   new notification also lands there;
2. the pool queue is unbound, what it still holds is moved to the holding
   queue, and it is deleted (only when empty);
3. the pool queue is declared again, by oslo.messaging with reaper's
   arguments (the listener of ``reaper queue declare``), and bound;
4. the holding queue is unbound, emptied into the pool queue and deleted.

A message may be moved twice (it was in both queues for a moment): reaper
deduplicates notifications by message id, so that costs nothing. An
interrupted conversion is finished by running the command again (a holding
queue left behind is emptied into the pool queue). The controllers must be
stopped, or they would keep consuming from the queue being replaced.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

from oslo_config import cfg
from oslo_messaging.notify import dispatcher as oslo_dispatcher


class UpgradeRefused(RuntimeError):
    """The queue cannot be converted now (for instance, controllers consume from it)."""


def holding(pool: str) -> str:
    return f"{pool}.upgrade"


def bindings(conf: cfg.ConfigOpts) -> list[tuple[str, str]]:
    """(exchange, routing key) of every binding oslo.messaging gives the pool queue."""
    return [
        (conf.listener.exchange, f"{topic}.{priority}")
        for topic in conf.listener.topics
        for priority in oslo_dispatcher.PRIORITIES
    ]


@contextlib.contextmanager
def _channel(url: str) -> Iterator[Any]:
    import kombu

    with kombu.Connection(url, connect_timeout=10) as connection:
        channel = connection.channel()
        try:
            yield channel
        finally:
            with contextlib.suppress(Exception):
                channel.close()


def consumers(url: str, queue: str) -> int | None:
    """How many consumers ``queue`` has; ``None`` when it does not exist."""
    try:
        with _channel(url) as channel:
            return int(channel.queue_declare(queue, passive=True).consumer_count)
    except Exception as exc:
        if getattr(exc, "code", None) == 404:
            return None
        raise


def move(channel: Any, source: str, target: str) -> int:
    """Move every message of ``source`` to ``target`` as it is (body, properties, headers)."""
    import amqp

    moved = 0
    while True:
        message = channel.basic_get(source, no_ack=False)
        if message is None:
            return moved
        copy = amqp.Message(message.body, **message.properties)
        channel.basic_publish(copy, exchange="", routing_key=target)
        channel.basic_ack(message.delivery_tag)
        moved += 1


def hold(url: str, pool: str, routes: Sequence[tuple[str, str]], *, patience: float = 10.0) -> int:
    """Steps 1 and 2: park the pool queue's messages and delete it; returns how many moved.

    A consumer that just went away (this command's own listener) may take
    the broker a moment to forget: ``patience`` seconds are given to it.
    """
    deadline = time.monotonic() + patience
    while (count := consumers(url, pool)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if count:
        raise UpgradeRefused(
            f"queue {pool} has {count} consumer(s): stop every reaper-controller of pool "
            f"{pool}, then run 'reaper queue declare' again"
        )
    with _channel(url) as channel:
        channel.queue_declare(holding(pool), durable=True, auto_delete=False)
        for exchange, key in routes:
            channel.queue_bind(holding(pool), exchange, key)
        if count is None:
            return 0
        for exchange, key in routes:
            channel.queue_unbind(pool, exchange, key)
        moved = move(channel, pool, holding(pool))
        channel.queue_delete(pool, if_empty=True)
    return moved


def release(url: str, pool: str, routes: Sequence[tuple[str, str]]) -> int:
    """Step 4, once the pool queue is declared and bound again; returns how many moved."""
    if consumers(url, holding(pool)) is None:
        return 0
    with _channel(url) as channel:
        for exchange, key in routes:
            channel.queue_unbind(holding(pool), exchange, key)
        moved = move(channel, holding(pool), pool)
        channel.queue_delete(holding(pool), if_empty=True)
    return moved
