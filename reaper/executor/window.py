"""Pacing: how many removals of a type may be in progress at once, from sent to confirmed.

A cap on requests in flight (``[executor] compute_concurrency``) bounds the
DELETEs, not the work they start: Nova answers a server DELETE at once and
then unbinds the server's ports in Neutron, detaches its volumes in Cinder
and updates placement, for every server it was handed, all at once. On a
small host that work is what the cleanup waits for: handed 25 servers in
three seconds (with Cinder, Glance and the addresses worked on beside),
Nova took 11-55 s over each server's network cleanup, where openstacksdk's
one request at a time saw 1-15 s.

A window bounds the work instead: a removal enters its type's window when
the scheduler submits it and leaves when its step has an outcome (for an
asynchronous removal, once a listing confirms it gone); the next one waiting
is sent then. The service is handed new deletions as fast as it finishes
them, and no faster. Types without a window (size 0) are bounded by the
concurrency caps only, as every other step is.

No threads and no clock: the scheduler calls it with the run's lock held,
and it hands a step on through ``send`` (to the step pool) or, while it
waits its turn, tells ``waits`` (the confirmation poller, whose listing
must not wait for a deletion that is sent only once a listing confirms
another). Invariant: per type, at most its size of steps are in progress;
waiting steps go in the order they came.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping

from reaper.executor.rules import is_removal
from reaper.model import Step


class Window:
    """Removals in progress and removals waiting their turn, per type with a window."""

    def __init__(
        self,
        sizes: Mapping[str, int],
        send: Callable[[str], None],
        waits: Callable[[Step], None] = lambda step: None,
    ) -> None:
        """``sizes``: resource type -> removals in progress at once (0 or absent: no window)."""
        if any(n < 0 for n in sizes.values()):
            raise ValueError(f"a window holds at least 0 removals (0: no window): {dict(sizes)}")
        self.sizes = {rtype: n for rtype, n in sizes.items() if n}
        self.send = send
        self.waits = waits
        self.open: dict[str, set[str]] = collections.defaultdict(set)
        self.waiting: dict[str, collections.deque[Step]] = collections.defaultdict(
            collections.deque
        )
        #: Step id -> its type, for every step in progress in a window.
        self.kind: dict[str, str] = {}

    def submit(self, step: Step) -> None:
        """Send ``step`` now if its type's window has room, else when it has."""
        rtype = step.resource.type
        size = self.sizes.get(rtype) if is_removal(step) else None
        if size is None:
            self.send(step.id)
        elif len(self.open[rtype]) < size and not self.waiting[rtype]:
            self._open(step)
        else:
            self.waiting[rtype].append(step)
            self.waits(step)

    def done(self, sid: str, *, more: bool = True) -> None:
        """``sid`` has its outcome; unless ``more`` is false (stopping), the next ones go."""
        rtype = self.kind.pop(sid, None)
        if rtype is None:
            return
        self.open[rtype].discard(sid)
        waiting = self.waiting[rtype]
        while more and waiting and len(self.open[rtype]) < self.sizes[rtype]:
            self._open(waiting.popleft())

    def in_progress(self, rtype: str) -> int:
        return len(self.open.get(rtype, ()))

    def waiting_ids(self, rtype: str) -> list[str]:
        return [s.id for s in self.waiting.get(rtype, ())]

    def _open(self, step: Step) -> None:
        self.open[step.resource.type].add(step.id)
        self.kind[step.id] = step.resource.type
        self.send(step.id)
