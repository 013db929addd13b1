"""Group commit: the appends of several threads, one chain lock and one commit.

Every append takes the chain head's row lock and holds it through its
commit, so a process's appends are serialized by the database however many
threads make them, each paying a full round trip and a flush. Threads that
append while another thread's append is being written queue up; when it is
done, the first of them writes everything queued so far in one transaction
(leader and followers), so a burst of N appends costs about two commits, not N.

Nothing about the chain changes: each caller's drafts are sealed together,
in order and contiguous, exactly as one :meth:`AuditRepository.append` of
them would be, and a caller returns only once its records are committed. A
group is one transaction, so it is all or nothing for every caller in it:
if it fails, each caller gets the error and none of their records is in the
chain (the same as a failed append of their own; it is not retried here,
since a commit whose outcome is unknown must not be written twice). Appends
that must join a caller's transaction (``conn``) never go through here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from reaper.audit.chain import ChainRecord, Sealable

Write = Callable[[Sequence[Sealable]], list[ChainRecord]]


class _Group:
    """The requests one leader writes together, and what became of them."""

    def __init__(self) -> None:
        self.requests: list[Sequence[Sealable]] = []
        self.sealed: list[ChainRecord] | None = None
        self.error: BaseException | None = None
        self.finished = False

    def add(self, drafts: Sequence[Sealable]) -> int:
        self.requests.append(drafts)
        return len(self.requests) - 1

    def result(self, index: int) -> list[ChainRecord]:
        if self.error is not None:
            raise self.error
        assert self.sealed is not None
        start = sum(len(r) for r in self.requests[:index])
        return self.sealed[start : start + len(self.requests[index])]


class GroupCommit:
    """Funnels the appends of a process's threads into as few transactions as they allow."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._cond = threading.Condition()
        #: The group taking requests; ``None`` until someone asks.
        self._open: _Group | None = None
        #: Whether a leader is writing a group now.
        self._busy = False
        #: Groups written and requests they held (for benchmarks and tests).
        self.groups = 0
        self.requests = 0

    def append(self, drafts: Sequence[Sealable]) -> list[ChainRecord]:
        """Append ``drafts`` (in order, contiguous); returns them sealed once committed."""
        if not drafts:
            return []
        with self._cond:
            if self._open is None:
                self._open = _Group()
            group = self._open
            index = group.add(drafts)
            while not group.finished:
                if not self._busy and self._open is group:
                    self._busy, self._open = True, None
                    break
                self._cond.wait()
        if not group.finished:
            self._lead(group)
        return group.result(index)

    def _lead(self, group: _Group) -> None:
        """Write ``group`` in one transaction, then let the next group go."""
        try:
            group.sealed = self._write([d for request in group.requests for d in request])
        except BaseException as exc:
            group.error = exc
        finally:
            with self._cond:
                group.finished = True
                self._busy = False
                self.groups += 1
                self.requests += len(group.requests)
                self._cond.notify_all()
