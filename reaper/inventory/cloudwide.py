"""Cloud-wide listings read once for every discovery they can serve.

Some of what a deleted project owns can only be found by reading the whole
cloud: Nova's server groups (no owner filter) and Glance's memberships of
other projects' shared images (no listing by member for an admin: one
member GET per shared image). Issue 18: a storm of 1,000 project deletions
in a cloud of 2,000 shared images made 2,000 member GETs per project.

A listing begun after an identity was gone shows everything the identity
still owns (a deleted project creates no group and is granted nothing
Keystone knows of after its deletion, and what it owned is removed only by
someone deleting it), so one such listing serves every discovery whose
identity was gone before it began: :attr:`Scope.gone_by
<reaper.inventory.base.Scope.gone_by>`, a time on reaper's own clock at
which Keystone had said the identity was gone (or reaper had been told).

Invariants:

* a discovery is served only by a read that *began* at or after its
  ``gone_by``, never by an older one: what it reads is what a read of its
  own would have read, or newer;
* a discovery without ``gone_by`` (an identity that may exist, such as a
  disabled one) always reads for itself, as before;
* a read that fails serves nobody afterwards: its waiters get its error (their
  plans are incomplete) and the next discovery reads again;
* one read per listing and endpoint in flight at a time; a discovery that
  one cannot serve starts a read of its own beside it;
* a read older than :attr:`SharedReads.max_age` is dropped rather than kept
  for the next storm (its memory, and the age a plan's discovery may have).

With a shelf attached (:meth:`SharedReads.attach`, the controller's on
PostgreSQL and MySQL), a listing that says how to store its answer (a
:class:`~reaper.inventory.shelf.Codec`) is read once for every controller
of the store (:mod:`.shelf`): this process's read may then be another's,
begun earlier than this process asked (never before the asking discovery's
``gone_by``), and a discovery that waited for it while bound later looks again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from reaper.inventory.shelf import Codec, StoredReads
from reaper.model import utcnow

T = TypeVar("T")


@dataclasses.dataclass
class _Read:
    began: dt.datetime
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class SharedReads:
    """Reads of cloud-wide listings, each shared by the discoveries it can serve."""

    def __init__(
        self, *, max_age: float = 600.0, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.max_age = dt.timedelta(seconds=max_age)
        self.clock = clock
        self._lock = threading.Lock()
        #: key -> reads kept (the newest last) or in flight.
        self._reads: dict[tuple[str, str], list[_Read]] = {}
        #: The store's reads, shared with the other controllers (:meth:`attach`).
        self.shelf: StoredReads | None = None

    def attach(self, shelf: StoredReads | None) -> None:
        """Share reads with other controllers through ``shelf`` (``None``: this process only)."""
        self.shelf = shelf

    def read(
        self,
        where: str | None,
        what: str,
        call: Callable[[], T],
        *,
        gone_by: dt.datetime | None,
        codec: Codec | None = None,
    ) -> T:
        """``call()``'s answer, or that of a read of the same listing begun at or after ``gone_by``.

        ``where`` names the cloud (an endpoint; ``None``: unknown, so never shared), ``what``
        the listing; ``codec``: how its answer is stored, to share it beyond this process.
        """
        if gone_by is None or where is None:
            return call()
        key = (where, what)
        while True:
            with self._lock:
                now = self.clock()
                kept = [
                    r
                    for r in self._reads.get(key, [])
                    if r.error is None and (not r.done.is_set() or now - r.began <= self.max_age)
                ]
                usable = [r for r in kept if r.began >= gone_by]
                mine = usable[-1] if usable else None
                if mine is None:
                    mine = _Read(began=now)
                    kept.append(mine)
                    owner = True
                else:
                    owner = False
                # One finished read is enough to keep: the latest begun serves whoever an
                # older would (a stored read may have begun before one finished earlier here).
                finished = sorted((r for r in kept if r.done.is_set()), key=lambda r: r.began)
                self._reads[key] = [r for r in kept if not r.done.is_set()] + finished[-1:]
            if owner:
                try:
                    began, mine.value = self._call(where, what, call, gone_by, codec, mine.began)
                    with self._lock:
                        mine.began = began
                except BaseException as exc:
                    mine.error = exc
                    raise
                finally:
                    mine.done.set()
                return mine.value  # type: ignore[no-any-return]
            mine.done.wait()
            if mine.error is not None:
                raise mine.error
            if mine.began >= gone_by:
                return mine.value  # type: ignore[no-any-return]
            # Answered by a stored read that began before this discovery's bound: look again.

    def _call(
        self,
        where: str,
        what: str,
        call: Callable[[], T],
        gone_by: dt.datetime,
        codec: Codec | None,
        began: dt.datetime,
    ) -> tuple[dt.datetime, T]:
        """When the answer's read began, and the answer: the shelf's, or ``call()``'s."""
        shelf = self.shelf
        if shelf is None or codec is None:
            return began, call()
        return shelf.fetch(where, what, call, since=gone_by, codec=codec)


#: The process's shared reads: every discovery of a controller's workers goes through it.
PROCESS = SharedReads()


def endpoint_of(proxy: Any) -> str | None:
    """The endpoint a proxy lists from (the key of its reads); ``None`` when it cannot say."""
    try:
        return str(proxy.get_endpoint()) or None
    except Exception:
        return None
