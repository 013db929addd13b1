"""Hear what keystone publishes, with a real oslo.messaging notification listener.

Keystone publishes on exchange ``keystone``, topic ``notifications`` (routing key
``notifications.info``). The listener gets a pool of its own: without one it would
compete for ``notifications.info`` with every other consumer of the vhost (reaper's
controller under test, keystone-manage's backlog). Its queue is deleted when it stops,
so a long-lived testbed does not collect a queue per test.

Runs in reaper's venv (oslo.messaging is one of reaper's requirements), imported lazily.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

Notification = dict[str, Any]


class Heard:
    """The notifications received so far, and a way to wait for one."""

    def __init__(self) -> None:
        self._items: list[Notification] = []
        self._changed = threading.Condition()

    def add(self, notification: Notification) -> None:
        with self._changed:
            self._items.append(notification)
            self._changed.notify_all()

    @property
    def items(self) -> list[Notification]:
        with self._changed:
            return list(self._items)

    def wait_for(
        self,
        event_type: str,
        match: Callable[[Notification], bool] = lambda _n: True,
        timeout: float = 30.0,
    ) -> Notification:
        """The first notification of ``event_type`` that ``match`` accepts."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for item in self._items:
                    if item["event_type"] == event_type and match(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [i["event_type"] for i in self._items]
                    raise TimeoutError(f"no {event_type} within {timeout:.0f}s; heard {seen}")
                self._changed.wait(remaining)


class _Endpoint:
    """oslo.messaging calls the method named after each notification's priority."""

    def __init__(self, heard: Heard) -> None:
        self._heard = heard

    def _record(self, priority: str, ctxt: Any, publisher_id: str, event_type: str,
                payload: Any, metadata: Any) -> None:  # fmt: skip
        self._heard.add(
            {
                "ctxt": ctxt,
                "publisher_id": publisher_id,
                "event_type": event_type,
                "payload": payload,
                "metadata": metadata,
                "priority": priority,
            }
        )

    def audit(self, *args: Any) -> None:
        self._record("audit", *args)

    def info(self, *args: Any) -> None:
        self._record("info", *args)

    def warn(self, *args: Any) -> None:
        self._record("warn", *args)

    def error(self, *args: Any) -> None:
        self._record("error", *args)

    def critical(self, *args: Any) -> None:
        self._record("critical", *args)


@contextlib.contextmanager
def listening(
    transport_url: str,
    pool: str | None = None,
    exchange: str = "keystone",
    topic: str = "notifications",
) -> Iterator[Heard]:
    """Listen on ``exchange``/``topic`` while the block runs; yields what is heard.

    The listener's queue is declared and bound before the block starts, so everything
    published inside the block is heard.
    """
    import oslo_messaging
    from oslo_config import cfg

    pool = pool or f"testbed-listener-{secrets.token_hex(4)}"
    transport = oslo_messaging.get_notification_transport(cfg.ConfigOpts(), url=transport_url)
    heard = Heard()
    listener = oslo_messaging.get_notification_listener(
        transport,
        [oslo_messaging.Target(exchange=exchange, topic=topic)],
        [_Endpoint(heard)],
        executor="threading",
        pool=pool,
    )
    listener.start()
    try:
        yield heard
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
        _delete_queue(transport_url, pool)


def _delete_queue(transport_url: str, queue: str) -> None:
    """Delete the pool's queue, which would otherwise collect every later notification.

    (oslo.messaging's ``amqp_auto_delete`` would do it, but it applies to the exchange too,
    and keystone declared ``keystone`` as not auto-deleted: the broker refuses the mismatch.)
    """
    import kombu

    if not transport_url.startswith("rabbit://"):
        return
    with kombu.Connection("amqp://" + transport_url.removeprefix("rabbit://")) as connection:
        connection.default_channel.queue_delete(queue)
