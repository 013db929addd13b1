"""The lease a worker holds while it works on a tombstone, kept alive and fenced.

A claim's lease (``[DEFAULT]`` lease, 15 minutes) would run out under a long
run: confirmation waits, evidence copies, retries. :class:`Heartbeat` renews
it every third of the lease from a background thread while the work runs,
so a live worker never loses it to another. If renewing is refused (the
lease expired and another worker took the tombstone: its fencing token
differs) or the store could not be reached for two thirds of the lease, the
heartbeat sets the run's ``halt`` event: the executor starts no further
step, its backoff sleeps end, and the worker's next state change is refused
by the store anyway (:class:`~reaper.store.Claim`).

The same ``halt`` event also carries the controller's stop (SIGTERM), so one
event ends a run, whichever of the two asks first.

Owners are unique per process (:func:`unique_owner`): two controllers that
share a host name never pass for each other, and a restarted controller
recognises its dead predecessor's leases by host and process id
(:func:`left_by_dead_process`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import TracebackType

from reaper import log
from reaper.model import IdentityRef
from reaper.store import Claim, Store, StoreError

LOG = log.get(__name__)


def unique_owner(host: str) -> str:
    """``host:pid:random``: who holds a lease, unique to this process."""
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def left_by_dead_process(owner: str, host: str) -> bool:
    """Whether ``owner`` is a lease of a process of this host that no longer runs."""
    prefix, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if prefix != host or not pid_text.isdigit():
        return owner == host  # an older reaper's owner string: the host name alone
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # a live process of another user
    return False


class Heartbeat:
    """Renews ``claim`` every ``lease / 3`` until the block ends; ``halt`` if it is lost.

    ``with Heartbeat(...) as halt:`` runs the block with the renewal thread
    going; ``halt`` is set when the lease is lost or ``stop`` is set. Without
    a claim (a tombstone processed without holding it) only ``stop`` is
    forwarded.
    """

    def __init__(
        self,
        renew: Callable[[Claim], bool],
        claim: Claim | None,
        lease: dt.timedelta,
        *,
        stop: threading.Event,
        tick: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.renew = renew
        self.claim = claim
        self.interval = lease.total_seconds() / 3
        self.give_up_after = lease.total_seconds() * 2 / 3
        self.stop = stop
        self.tick = tick
        self.monotonic = monotonic
        self.halt = threading.Event()
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="reaper-lease", daemon=True)

    def __enter__(self) -> threading.Event:
        if self.stop.is_set():
            self.halt.set()
        self._thread.start()
        return self.halt

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        renewed_at = due = self.monotonic()
        due += self.interval
        while not self._done.wait(min(self.tick, self.interval)):
            if self.stop.is_set():
                self.halt.set()
            if self.claim is None or self.lost or self.monotonic() < due:
                continue
            try:
                held = self.renew(self.claim)
            except StoreError as exc:
                LOG.warning("lease not renewed", tombstone=self.claim.tombstone_id, error=str(exc))
                if self.monotonic() - renewed_at > self.give_up_after:
                    self._lose("the store could not be reached to renew the lease")
                due = self.monotonic() + min(self.interval, 5.0)
                continue
            if not held:
                self._lose("the lease was taken over by another claim")
                continue
            renewed_at = self.monotonic()
            due = renewed_at + self.interval

    def _lose(self, why: str) -> None:
        assert self.claim is not None
        self.lost = True
        self.halt.set()
        LOG.error(
            "lease lost: no further step starts",
            tombstone=self.claim.tombstone_id,
            owner=self.claim.owner,
            token=self.claim.token,
            why=why,
        )


@contextlib.contextmanager
def held_for_operator(
    store: Store,
    identity: IdentityRef,
    owner: str,
    *,
    lease: dt.timedelta,
    stop: threading.Event,
) -> Iterator[threading.Event]:
    """An operator's run (``reaper apply``) holds the identity's tombstone like a worker.

    Claims it (raising :class:`~reaper.store.StateConflict` while a
    controller holds it), keeps the lease with a heartbeat and gives it back
    at the end, leaving its state alone. Without a tombstone there is nothing
    a controller could be running, and nothing to claim.
    """
    tombstone = store.tombstones.find(identity)
    if tombstone is None:
        yield stop
        return
    claim = Claim.of(store.tombstones.claim(tombstone.id, owner, lease=lease))
    try:
        with Heartbeat(store.tombstones.renew, claim, lease, stop=stop) as halt:
            yield halt
    finally:
        store.tombstones.release(tombstone.id, owner)
