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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any, TypeVar

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

    def read(
        self, where: str | None, what: str, call: Callable[[], T], *, gone_by: dt.datetime | None
    ) -> T:
        """``call()``'s answer, or that of a read of the same listing begun at or after ``gone_by``.

        ``where`` names the cloud (an endpoint; ``None``: unknown, so never shared), ``what``
        the listing.
        """
        if gone_by is None or where is None:
            return call()
        key = (where, what)
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
            # One finished read is enough to keep: the newest serves whoever an older would.
            finished = [r for r in kept if r.done.is_set()]
            self._reads[key] = [r for r in kept if not r.done.is_set()] + finished[-1:]
        if owner:
            try:
                mine.value = call()
            except BaseException as exc:
                mine.error = exc
                raise
            finally:
                mine.done.set()
            return mine.value  # type: ignore[no-any-return]
        mine.done.wait()
        if mine.error is not None:
            raise mine.error
        return mine.value  # type: ignore[no-any-return]


#: The process's shared reads: every discovery of a controller's workers goes through it.
PROCESS = SharedReads()


def endpoint_of(proxy: Any) -> str | None:
    """The endpoint a proxy lists from (the key of its reads); ``None`` when it cannot say."""
    try:
        return str(proxy.get_endpoint()) or None
    except Exception:
        return None
