"""Dead letters: messages the message driver could not decode, kept, audited, never acted on.

oslo.messaging's rabbit driver decodes each message before any endpoint
sees it. One it cannot decode (not JSON, a pickle or any other content type
it refuses, nested deeper than the parser goes, not an oslo envelope) is
logged as "Failed to process message ... skipping it" and rejected without
requeue, and RabbitMQ drops it: no audit record, no metric, and whoever
probes the bus leaves no trace (issue 13, item 14).

So reaper declares its pool queue with a dead-letter exchange
(``x-dead-letter-exchange = <pool>.dead-letter``, a fanout exchange) bound
to a durable queue of the same name that reaper owns. What the driver
rejects moves there; :class:`DeadLetterConsumer` reads it raw (the body is
never decoded), hands each message to a recorder that audits its SHA-256,
size, content type and encoding, headers, routing key and times, and counts
it, and only then acknowledges it. A store outage leaves the message in the
queue. Nothing in a dead letter is ever acted on.

oslo.messaging has no option for queue arguments, so :func:`install` wraps
its rabbit ``Consumer.declare`` to add reaper's argument to the queues
registered with :func:`register`, and to no other. Before the first
declaration a probe on a channel of its own declares the dead-letter
exchange and queue, and the pool queue with oslo's exact arguments plus
reaper's. RabbitMQ refuses to redeclare a queue with other arguments
(``PRECONDITION_FAILED``): a pool queue declared by a reaper that did not
dead-letter is found out by that probe, and the listener then runs without
dead-lettering, as before, and says so; ``reaper queue declare`` upgrades
the queue (``upgrade.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from reaper import log

LOG = log.get(__name__)

ARGUMENT = "x-dead-letter-exchange"
#: Bounds of what an audit record keeps of a message's headers.
_MAX_ITEMS, _MAX_DEPTH, _MAX_TEXT = 32, 5, 255


def name(pool: str) -> str:
    """The dead-letter exchange and queue of a pool queue (both have this name)."""
    return f"{pool}.dead-letter"


# -- the declaration hook -----------------------------------------------------------------


@dataclass
class Choice:
    """Whether a registered pool queue dead-letters; decided by its first declaration.

    ``wanted`` is ``[listener] dead_letter``. A new queue gets what is
    wanted; an existing one is used as it is, because RabbitMQ refuses to
    redeclare it otherwise: ``reaper queue declare`` converts it.
    """

    queue: str
    exchange: str
    wanted: bool = True
    #: ``None`` until the probe ran; then whether the queue has reaper's argument.
    enabled: bool | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Set once the probe ran (whatever it found, or if it failed).
    decided: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def converted(self) -> bool:
        """The queue is as configured (nothing for ``reaper queue declare`` to convert)."""
        return self.enabled is self.wanted

    def decide(self, consumer: Any, conn: Any) -> bool:
        with self.lock:
            if self.enabled is None:
                try:
                    self.enabled = _probe(consumer, conn, self.exchange, self.wanted)
                finally:
                    self.decided.set()
                if not self.converted:
                    LOG.warning(
                        "the listener queue exists with dead-lettering "
                        + ("off" if self.wanted else "on")
                        + ", unlike [listener] dead_letter: it is used as it is until "
                        "'reaper queue declare' converts it (with the controllers stopped)",
                        queue=self.queue,
                    )
            return self.enabled


_REGISTRY: dict[str, Choice] = {}
_REGISTRY_LOCK = threading.Lock()
_installed = False


def register(pool: str, *, wanted: bool = True) -> Choice:
    """Decide (and apply) dead-lettering for the pool queue ``pool`` (see :func:`install`)."""
    install()
    choice = Choice(queue=pool, exchange=name(pool), wanted=wanted)
    with _REGISTRY_LOCK:
        _REGISTRY[pool] = choice
    return choice


def unregister(pool: str) -> None:
    with _REGISTRY_LOCK:
        _REGISTRY.pop(pool, None)


def install() -> None:
    """Wrap oslo.messaging's rabbit ``Consumer.declare`` once per process (idempotent)."""
    global _installed
    with _REGISTRY_LOCK:
        if _installed:
            return
        from oslo_messaging._drivers import impl_rabbit

        original = impl_rabbit.Consumer.declare

        def declare(consumer: Any, conn: Any) -> Any:
            choice = _REGISTRY.get(consumer.queue_name)
            if choice is not None and choice.decide(consumer, conn):
                consumer.queue_arguments = {**consumer.queue_arguments, ARGUMENT: choice.exchange}
            return original(consumer, conn)

        impl_rabbit.Consumer.declare = declare
        _installed = True


def _probe(consumer: Any, conn: Any, exchange: str, wanted: bool) -> bool:
    """Whether the pool queue dead-letters, once it is declared as oslo.messaging is about to.

    The queue is declared, on channels of reaper's own (RabbitMQ closes a
    channel whose declaration it refuses), with exactly oslo's flags and
    arguments plus reaper's if ``wanted``; if RabbitMQ refuses because the
    queue exists with the other choice, that one is taken. A queue that
    will dead-letter gets its dead-letter exchange and queue first.
    """
    import amqp

    arguments = dict(consumer.queue_arguments or {})
    enabled = wanted
    for durable in (consumer.durable, False):  # oslo falls back to non-durable the same way
        attempt = {**arguments, ARGUMENT: exchange} if enabled else arguments
        try:
            with _channel(conn) as channel:
                if enabled:
                    _declare_dead_letters(channel, exchange)
                channel.queue_declare(
                    consumer.queue_name,
                    durable=durable,
                    auto_delete=consumer.queue_auto_delete,
                    arguments=attempt,
                )
            return enabled
        except amqp.exceptions.PreconditionFailed as exc:
            if ARGUMENT in str(exc):
                enabled = not enabled
                with _channel(conn) as channel:
                    if enabled:
                        _declare_dead_letters(channel, exchange)
                return enabled
            if "durable" not in str(exc) or not durable:
                raise
    return enabled


def _declare_dead_letters(channel: Any, exchange: str) -> None:
    channel.exchange_declare(exchange, "fanout", durable=True, auto_delete=False)
    channel.queue_declare(exchange, durable=True, auto_delete=False)
    channel.queue_bind(exchange, exchange, "")


@contextlib.contextmanager
def _channel(conn: Any) -> Iterator[Any]:
    channel = conn.connection.channel()
    try:
        yield channel
    finally:
        with contextlib.suppress(Exception):
            channel.close()


# -- what a dead letter says ------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """What reaper keeps of an undecodable message: never its body, only its fingerprint."""

    sha256: str
    size: int
    content_type: str | None
    content_encoding: str | None
    headers: Mapping[str, Any]
    routing_key: str | None
    #: Why and when RabbitMQ dead-lettered it, from its ``x-death`` header.
    reason: str | None
    dead_lettered_at: str | None

    @classmethod
    def from_raw(
        cls,
        body: bytes | str,
        *,
        content_type: Any = None,
        content_encoding: Any = None,
        headers: Any = None,
        routing_key: Any = None,
    ) -> DeadLetter:
        """What to keep of a message as it came off the queue (nothing is decoded)."""
        raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
        headers = headers if isinstance(headers, Mapping) else {}
        death = headers.get("x-death")
        first = (
            death[0] if isinstance(death, list) and death and isinstance(death[0], Mapping) else {}
        )
        routing = first.get("routing-keys")
        return cls(
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            content_type=_text(content_type),
            content_encoding=_text(content_encoding),
            headers=_plain(headers, 0),
            routing_key=_text(routing[0] if isinstance(routing, list) and routing else routing_key),
            reason=_text(first.get("reason")),
            dead_lettered_at=_text(first.get("time")),
        )

    @property
    def ref(self) -> str:
        """How the audit trail names it: like a rejected notification's unstorable id."""
        return f"sha256:{self.sha256[:16]}"

    def details(self, received_at: dt.datetime) -> dict[str, Any]:
        return {
            "code": "undecodable",
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "content_encoding": self.content_encoding,
            "routing_key": self.routing_key,
            "dead_lettered": self.reason,
            "dead_lettered_at": self.dead_lettered_at,
            "received_at": received_at.isoformat(),
            "headers": dict(self.headers),
        }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)
    return text[:_MAX_TEXT].encode("utf-8", "backslashreplace").decode("utf-8")


def _plain(value: Any, depth: int) -> Any:
    """Headers as bounded, JSON-safe data: an attacker chooses them too."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        items = list(value.items())[:_MAX_ITEMS]
        return {_text(k) or "": _plain(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value[:_MAX_ITEMS]]
    return _text(value)


# -- reading the dead-letter queue ------------------------------------------------------------


class DeadLetterConsumer:
    """Reads ``<pool>.dead-letter`` raw, in a thread, and acknowledges what was recorded.

    ``record`` raises to keep a message (a store outage): it is requeued
    after a pause, so nothing is lost and nothing spins.
    """

    def __init__(
        self,
        url: str,
        queue: str,
        record: Callable[[DeadLetter], None],
        *,
        retry_after: float = 2.0,
    ) -> None:
        self.url = url
        self.queue = queue
        self.record = record
        self.retry_after = retry_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="reaper-dead-letters", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        import kombu

        while not self._stop.is_set():
            try:
                with kombu.Connection(self.url, connect_timeout=5) as connection:
                    queue = kombu.Queue(self.queue, no_declare=True)
                    with connection.Consumer(queue, on_message=self._on_message, prefetch_count=16):
                        while not self._stop.is_set():
                            with contextlib.suppress(socket.timeout, TimeoutError):
                                connection.drain_events(timeout=1)
            except Exception as exc:  # broker away, queue not there yet: try again
                LOG.warning("dead-letter queue unavailable, retrying", error=str(exc))
                self._stop.wait(self.retry_after)

    def _on_message(self, message: Any) -> None:
        letter = DeadLetter.from_raw(
            message.body,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            headers=message.headers,
            routing_key=(message.delivery_info or {}).get("routing_key"),
        )
        try:
            self.record(letter)
        except Exception as exc:
            LOG.error("could not record a dead letter; it stays queued", error=str(exc))
            self._stop.wait(self.retry_after)
            message.requeue()
            return
        message.ack()
