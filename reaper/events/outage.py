"""What the listener does while the store is down: hold the batch, retry, say so once.

Requeueing a batch the store cannot take hands it straight back: RabbitMQ
redelivers it at once, the store is still down, and the loop spins as fast
as the broker can deliver. On a quorum queue every such return counts
towards its delivery limit (20 by default in RabbitMQ 4), so an outage of
a few seconds used to drop the batch. Instead the endpoint keeps the batch
unacknowledged and tries again with capped exponential backoff
(:class:`Backoff`); the broker sees one delivery, however long the outage.

Invariants:

- a held batch is never acknowledged before it is recorded: it is recorded
  (then acknowledged), or requeued when the listener stops or after
  ``hold_limit``, so nothing is lost;
- the log says "store unavailable" once when an outage starts and "store
  back" once when the first held batch is recorded, with how long it lasted
  and how many messages it held, whatever the number of executor threads
  holding batches meanwhile (:class:`Outage`).

The oslo.messaging rabbit driver keeps the connection alive meanwhile: its
heartbeat thread (``Connection._heartbeat_thread_job``) runs beside the
polling thread, and a callback that blocks holds neither.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity
from oslo_config import cfg

from reaper import log
from reaper.store import SchemaError, StoreUnavailable

LOG = log.get(__name__)
R = TypeVar("R")

#: What a held batch waits out: the database unreachable, or not (yet) at reaper's schema.
WAITED_OUT = (StoreUnavailable, SchemaError)


@dataclasses.dataclass(frozen=True)
class Backoff:
    """How a held batch is retried (``[listener] store_retry_*``, ``store_hold_limit``).

    Waits grow from ``initial`` by doubling up to ``maximum`` seconds; a
    batch is given back after ``hold_limit`` seconds (0: never).
    """

    initial: float = 1.0
    maximum: float = 30.0
    hold_limit: float = 900.0

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> Backoff:
        return cls(
            initial=conf.listener.store_retry_initial,
            maximum=max(conf.listener.store_retry_max, conf.listener.store_retry_initial),
            hold_limit=conf.listener.store_hold_limit,
        )


class Released(Exception):
    """The listener is stopping: what is held goes back to the queue now."""


class Outage:
    """The store's state as the executor threads see it: one line per change, not per batch."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        #: When the outage began (``clock()``); None while the store answers.
        self.since: float | None = None
        #: Messages held now, by every thread.
        self.waiting = 0
        #: Messages held at any time during this outage.
        self.held = 0

    def hold(self, count: int, error: Exception) -> None:
        """A batch of ``count`` messages starts waiting for the store."""
        with self._lock:
            self.waiting += count
            self.held += count
            if self.since is not None:
                return
            self.since = self._clock()
        LOG.error(
            "store unavailable: notifications held until it is back",
            waiting=count,
            error=str(error),
        )

    def let_go(self, count: int, *, recorded: bool) -> None:
        """A held batch stops waiting: recorded (the store is back), or requeued."""
        with self._lock:
            self.waiting -= count
            if not recorded or self.since is None:
                return
            down_for, held, still = self._clock() - self.since, self.held, self.waiting
            self.since, self.held = None, self.waiting
        LOG.warning(
            "store back: held notifications recorded",
            down_for=round(down_for, 1),
            held=held,
            still_waiting=still,
        )


def persist_holding(
    record: Callable[[], R],
    count: int,
    *,
    backoff: Backoff,
    outage: Outage,
    released: threading.Event,
) -> R:
    """``record()``, tried again while the store is down; raises once it is given back.

    Raises :class:`Released` when ``released`` is set, or the last
    :data:`WAITED_OUT` error when ``hold_limit`` has passed: the caller
    requeues. Any other error propagates from the first attempt that meets it.
    """
    state: dict[str, Any] = {"held": False}

    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        if not state["held"]:
            state["held"] = True
            error = retry_state.outcome.exception() if retry_state.outcome else None
            outage.hold(count, error or RuntimeError("store unavailable"))

    def sleep(seconds: float) -> None:
        if released.wait(seconds):
            raise Released()

    stop: Any = tenacity.stop_when_event_set(released)
    if backoff.hold_limit > 0:
        stop = stop | tenacity.stop_after_delay(backoff.hold_limit)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(WAITED_OUT),
        wait=tenacity.wait_exponential(
            multiplier=backoff.initial, min=backoff.initial, max=backoff.maximum
        ),
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    recorded = False
    try:
        result = retrying(record)
        recorded = True
        return result
    finally:
        if state["held"]:
            outage.let_go(count, recorded=recorded)


class Holder:
    """The endpoint's side of an outage: its backoff, the shared :class:`Outage`, the release.

    Without a ``backoff`` nothing is held (``reaper replay`` reports the
    store's error at once). Once :meth:`release` is called (the listener
    stops), nothing is held anew, and a batch arriving while the store is
    known to be down is given back without waiting for the store to answer.
    """

    def __init__(self, backoff: Backoff | None) -> None:
        self.backoff = backoff
        self.outage = Outage()
        #: Set while the listener stops: held batches are requeued, none is held anew.
        self.released = threading.Event()

    def record(self, count: int, record: Callable[[], R]) -> R:
        """``record()``, held through an outage; raises :class:`Released` or the store's error."""
        if self.released.is_set():
            if self.outage.since is not None:
                raise Released()
            return record()
        if self.backoff is None:
            return record()
        return persist_holding(
            record, count, backoff=self.backoff, outage=self.outage, released=self.released
        )

    def release(self) -> None:
        """Give back what is held, and hold nothing more (the listener is stopping)."""
        self.released.set()
