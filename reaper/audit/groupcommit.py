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

The leader/follower scheme is :mod:`reaper.store.funnel`'s; this module only
says which of a group's sealed records are a caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reaper.audit.chain import ChainRecord, Sealable
from reaper.store.funnel import Funnel

Write = Callable[[Sequence[Sealable]], list[ChainRecord]]


class GroupCommit:
    """Funnels the appends of a process's threads into as few transactions as they allow."""

    def __init__(self, write: Write) -> None:
        self._funnel: Funnel[Sealable, list[ChainRecord]] = Funnel(write)

    @property
    def groups(self) -> int:
        """Transactions written (for benchmarks and tests)."""
        return self._funnel.groups

    @property
    def requests(self) -> int:
        """Appends they held."""
        return self._funnel.requests

    @property
    def waiting(self) -> int:
        """Appends queued for the next transaction."""
        return self._funnel.waiting

    def append(self, drafts: Sequence[Sealable]) -> list[ChainRecord]:
        """Append ``drafts`` (in order, contiguous); returns them sealed once committed."""
        if not drafts:
            return []
        turn = self._funnel.submit(drafts)
        if turn.error is not None:
            raise turn.error
        assert turn.result is not None
        return turn.result[turn.offset : turn.offset + turn.size]
