"""Cloud-wide reads shared by every controller of a store, not only by one process's workers.

:mod:`.cloudwide` shares a read among the discoveries of one process, so
each controller of a storm still paid every cloud-wide listing once: the
members of 2,000 foreign shared images were 2,000 GETs per controller
(issue 18's B2 storm), four times over on one image cap with 4 controllers.
Here a process that must read asks the store first: the newest read of that
listing, from any controller, serves it under the same rule as in a
process, and a read one controller has in flight is waited for rather than
made again beside it.

Invariants (the rule of :mod:`.cloudwide`, across controllers):

* a discovery is served only by a read that *began* at or after its
  ``since`` (its identity was gone by then), and at most :attr:`max_age` ago;
* a read that fails serves nobody: its row is emptied, and whoever waited
  for it looks again (and reads itself);
* at most one read of a listing is in flight in the cloud: it is written
  with its reader and a lease before it begins, renewed while it runs, so a
  reader that dies stops being waited for when the lease runs out;
* the store is never needed: when it cannot be read or written, or its
  answer cannot be decoded, the process reads for itself, as before.

The shelf (the store's ``cloud_reads``, :class:`reaper.store.reads.ReadRepository`)
keeps one row per endpoint and listing, its ``generation`` fencing each
change: a reader begins only from the generation it saw, so two controllers
that find no read never both begin one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from reaper import log
from reaper.model import utcnow

LOG = log.get(__name__)

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Codec:
    """How a listing's answer becomes JSON for the shelf, and back."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


class Entry(Protocol):
    """A listing's row: its newest read, or the read in flight (``reads.ReadRow``)."""

    @property
    def generation(self) -> int: ...

    @property
    def began(self) -> dt.datetime | None: ...

    @property
    def reader(self) -> str | None: ...

    @property
    def expires_at(self) -> dt.datetime | None: ...

    @property
    def answered(self) -> bool: ...


class Shelf(Protocol):
    """The store's side (``cloud_reads``); every method may raise the store's errors."""

    def look(self, endpoint: str, listing: str) -> Entry:
        """The listing's row (an empty one, generation 0, if it has none yet)."""

    def body(self, endpoint: str, listing: str, generation: int) -> str | None:
        """The answer of the read of ``generation``; ``None`` if the row moved on since."""

    def begin(
        self,
        endpoint: str,
        listing: str,
        generation: int,
        reader: str,
        began: dt.datetime,
        expires_at: dt.datetime,
    ) -> bool:
        """``reader``'s read in flight (generation + 1), if the row is still ``generation``."""

    def renew(
        self, endpoint: str, listing: str, generation: int, reader: str, expires_at: dt.datetime
    ) -> bool:
        """The lease of ``reader``'s read in flight extended; ``False``: it is no longer."""

    def finish(self, endpoint: str, listing: str, generation: int, reader: str, body: str) -> bool:
        """``reader``'s read answered; ``False``: it was taken over (its lease ran out)."""

    def abandon(self, endpoint: str, listing: str, generation: int, reader: str) -> None:
        """``reader``'s read failed: the row serves nobody until the next read."""


class StoredReads:
    """A process's door to the reads shared through the store (see the module)."""

    def __init__(
        self,
        shelf: Shelf,
        reader: str,
        *,
        max_age: float = 600.0,
        lease: float = 30.0,
        poll: float = 0.5,
        clock: Callable[[], dt.datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.shelf = shelf
        self.reader = reader
        self.max_age = dt.timedelta(seconds=max_age)
        self.lease = dt.timedelta(seconds=lease)
        self.poll = poll
        self.clock = clock
        self.sleep = sleep

    def fetch(
        self,
        endpoint: str,
        listing: str,
        call: Callable[[], T],
        *,
        since: dt.datetime,
        codec: Codec,
    ) -> tuple[dt.datetime, T]:
        """When the read serving a discovery gone by ``since`` began, and its answer."""
        while True:
            now = self.clock()
            try:
                entry = self.shelf.look(endpoint, listing)
                if entry.reader is None and entry.answered and self._serves(entry, since, now):
                    body = self.shelf.body(endpoint, listing, entry.generation)
                    if body is None:
                        continue  # a newer read replaced it meanwhile: look again
                    return entry.began, codec.decode(json.loads(body))  # type: ignore[return-value]
                if entry.reader is not None and entry.expires_at and entry.expires_at > now:
                    self.sleep(self.poll)  # another's read in flight: its answer, or ours after
                    continue
                if not self.shelf.begin(
                    endpoint, listing, entry.generation, self.reader, now, now + self.lease
                ):
                    continue  # another controller began first: wait for it
            except Exception as exc:  # the store is an economy, never a need
                LOG.warning(
                    "shared read unavailable: reading alone", listing=listing, error=str(exc)
                )
                began = self.clock()
                return began, call()
            return now, self._read(endpoint, listing, entry.generation + 1, call, codec)

    def _serves(self, entry: Entry, since: dt.datetime, now: dt.datetime) -> bool:
        return (
            entry.began is not None and entry.began >= since and now - entry.began <= self.max_age
        )

    def _read(
        self, endpoint: str, listing: str, generation: int, call: Callable[[], T], codec: Codec
    ) -> T:
        """Our read, its lease kept while it runs, its answer (or its failure) written."""
        done = threading.Event()
        keeper = threading.Thread(
            target=self._keep,
            args=(endpoint, listing, generation, done),
            name="reaper-shared-read",
            daemon=True,
        )
        keeper.start()
        try:
            value = call()
        except BaseException:
            done.set()
            try:
                self.shelf.abandon(endpoint, listing, generation, self.reader)
            except Exception as exc:  # its lease runs out instead
                LOG.warning("failed shared read not cleared", listing=listing, error=str(exc))
            raise
        done.set()
        keeper.join()
        try:
            body = json.dumps(codec.encode(value), separators=(",", ":"))
            if not self.shelf.finish(endpoint, listing, generation, self.reader, body):
                LOG.warning("shared read taken over before it was written", listing=listing)
        except Exception as exc:  # ours is still good for this process
            LOG.warning("shared read not written", listing=listing, error=str(exc))
        return value

    def _keep(self, endpoint: str, listing: str, generation: int, done: threading.Event) -> None:
        """Renew the lease of our read in flight every third of it, until it ends."""
        every = self.lease.total_seconds() / 3
        while not done.wait(every):
            try:
                if not self.shelf.renew(
                    endpoint, listing, generation, self.reader, self.clock() + self.lease
                ):
                    return
            except Exception as exc:  # the next renewal may succeed before the lease ends
                LOG.warning("shared read lease not renewed", listing=listing, error=str(exc))
