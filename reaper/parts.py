"""The parts a controller is made of, each with ``start()`` and ``stop()`` (the aodh way).

The controller is a list of parts, started in order and stopped in reverse
(:class:`Parts`). The parts that are loops run in threads of their own and
end when the controller's ``stopping`` event is set; their ``stop()`` waits
for them (a worker finishes the steps in flight first). Parts that already
have a life of their own (the listener, the API server, the checkpointer)
are parts as they are; the undecodable-message auditor is adapted
(:class:`Installed`), the dead-letter reader wrapped (:class:`DeadLetters`), and
the request budget shared with other controllers (:class:`SharedBudget`), and so are
the cloud-wide reads of discoveries (:class:`SharedListings`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from oslo_config import cfg

from reaper import budget as budgets
from reaper import log
from reaper.budget import BudgetSettings, SharedSlots
from reaper.cleanup.sweep import Sweeper
from reaper.cleanup.worker import Worker
from reaper.events.deadletter import DeadLetterConsumer
from reaper.events.listener import Listener, broker_url
from reaper.events.undecodable import DeadLetterRecorder
from reaper.inventory import cloudwide
from reaper.inventory.shelf import StoredReads
from reaper.store import Store, StoreError, slots
from reaper.store.reads import ReadRepository

LOG = log.get(__name__)


class Part(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Parts:
    """Parts started in the order given and stopped in the reverse order.

    A part that fails to stop is logged and the others still stop: a
    shutdown is never left half done.
    """

    def __init__(self, parts: Sequence[tuple[str, Part]]) -> None:
        self.parts = list(parts)

    def start(self) -> None:
        for _, part in self.parts:
            part.start()

    def stop(self) -> None:
        for name, part in reversed(self.parts):
            try:
                part.stop()
            except Exception:
                LOG.exception("part failed to stop", part=name)


class Installed:
    """A part out of something installed and uninstalled (a logging handler)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def start(self) -> None:
        self.target.install()

    def stop(self) -> None:
        self.target.uninstall()


class Threads:
    """Threads running ``target`` until it returns; ``stop()`` joins them.

    One thread called ``name``, or with ``count``, that many called ``name-0``...
    """

    def __init__(self, name: str, target: Callable[[], None], count: int | None = None) -> None:
        self.name = name
        self.target = target
        self.count = count
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        names = (
            [self.name] if self.count is None else [f"{self.name}-{i}" for i in range(self.count)]
        )
        for name in names:
            thread = threading.Thread(target=self.target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        for thread in self.threads:
            thread.join()


def work_loop(
    worker: Worker, *, stopping: threading.Event, wake: threading.Event, poll_interval: float
) -> Callable[[], None]:
    """A worker thread: claim and work until stopping; back off while the store is away."""

    def loop() -> None:
        while not stopping.is_set():
            try:
                worked = worker.work_once()
            except StoreError as exc:
                LOG.error("store unavailable; workers back off", error=str(exc))
                stopping.wait(min(30.0, poll_interval * 2))
                continue
            except Exception:
                LOG.exception("worker loop error")
                worked = None
            if worked is None:
                wake.wait(poll_interval)
                wake.clear()

    return loop


def sweep_loop(
    sweeper: Sweeper, *, stopping: threading.Event, interval: float
) -> Callable[[], None]:
    """The periodic sweep: one every ``interval`` seconds until stopping."""

    def loop() -> None:
        while not stopping.wait(interval):
            sweeper.sweep_once()

    return loop


class DeadLetters:
    """Audits what the driver rejects, if the pool queue dead-letters it (a part).

    Started after the listener, which knows by then whether its queue
    dead-letters; stopped before it.
    """

    def __init__(self, conf: cfg.ConfigOpts, listener: Listener, recorder: DeadLetterRecorder):
        self.conf = conf
        self.listener = listener
        self.recorder = recorder
        self.consumer: DeadLetterConsumer | None = None

    def start(self) -> None:
        url = broker_url(self.conf)
        if not self.listener.dead_lettering or url is None:
            return
        self.consumer = DeadLetterConsumer(url, self.listener.dead_letter.exchange, self.recorder)
        self.consumer.start()

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop()


class SharedBudget:
    """The process's request budget, shared through the store with the other controllers.

    Started first and stopped last, so every request the controller sends
    (the warm-up's included) counts against the cloud-wide caps; on a
    clean stop its slots are given back at once (a killed controller's
    expire with their lease). On SQLite, or with ``[executor]
    shared_concurrency = false``, a part that does nothing: the caps are
    the process's.
    """

    def __init__(self, settings: BudgetSettings, store: Store, holder: str) -> None:
        self.settings = settings
        self.store = store
        self.holder = holder
        self.slots: SharedSlots | None = None

    @classmethod
    def of(cls, conf: cfg.ConfigOpts, store: Store, holder: str) -> SharedBudget:
        """The part for ``conf``'s ``[executor]`` caps."""
        return cls(BudgetSettings.from_conf(conf), store, holder)

    def start(self) -> None:
        self.slots = slots.share(self.store.db, self.settings, self.holder)
        if self.slots is not None:
            budgets.for_process(self.settings).attach(self.slots.start())
            LOG.info("request caps shared with every controller of the store", holder=self.holder)

    def stop(self) -> None:
        if self.slots is not None:
            budgets.for_process(self.settings).attach(None)
            self.slots.stop()
            self.slots = None


class SharedListings:
    """The process's cloud-wide reads (:mod:`reaper.inventory.cloudwide`), shared through the store.

    With it, a storm's discoveries read the members of every shared image
    and Nova's server groups once for all controllers, not once per
    controller (:mod:`reaper.inventory.shelf`). On SQLite, which serves one
    controller, a part that does nothing.
    """

    def __init__(self, store: Store, holder: str, reads: cloudwide.SharedReads | None = None):
        self.store = store
        self.holder = holder
        self.reads = reads or cloudwide.PROCESS

    def start(self) -> None:
        if self.store.db.dialect == "sqlite":
            return
        max_age = self.reads.max_age.total_seconds()
        self.reads.attach(StoredReads(ReadRepository(self.store.db), self.holder, max_age=max_age))

    def stop(self) -> None:
        self.reads.attach(None)
