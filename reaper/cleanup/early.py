"""The usage before cleanup, read beside discovery rather than after the plan.

A project's cleanup keeps the project's usage as the services account for
it before anything is deleted (:mod:`.reclaim`): one request per service.
Read where it used to be, between the plan and the first step, those
requests were on the way to every deletion's first step; nothing in them
depends on the plan, so the worker asks for them as soon as Keystone's
verdict allows a plan, beside discovery, and the run takes the reading
before its first step.

Invariants (the road's, unchanged):

* nothing of a live identity is read: the reading is asked only once
  Keystone's verdict allows a plan, as discovery is;
* the reading is kept before the first step runs, and only the first
  reading of a tombstone is kept (a resumed run does not read again);
* a plan that is not run (held, dry-run, an error) throws the reading away
  (:meth:`Early.close`; it finishes in the background, nobody waits).
"""

from __future__ import annotations

import concurrent.futures

from reaper.cleanup.seams import Cloud
from reaper.model import IdentityKind, IdentityRef
from reaper.reclaim import READERS, Measure, Usage

#: Why a gone project's compute usage is not asked: Nova checks the project with
#: Keystone before answering its quotas, and refuses one Keystone no longer has (after
#: a round trip to Keystone: the slowest read on the way to the first step).
NOVA_REFUSES = "not asked: Nova refuses the quotas of a project Keystone no longer has"


class Early:
    """A project's usage, asked now and taken by the run before its first step.

    ``gone``: Keystone's verdict said the project is gone, so Nova, which
    would refuse its quotas, is not asked (:data:`NOVA_REFUSES` says so in
    the reading's ``unavailable``, as its refusal did).
    """

    def __init__(self, cloud: Cloud, identity: IdentityRef, gone: bool = False) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reaper-early")
        self.usage: concurrent.futures.Future[Usage] | None = None
        if identity.kind is IdentityKind.PROJECT and cloud.usage is not None:
            self.usage = self.pool.submit(_before, cloud.usage, identity.id, gone)

    def close(self) -> None:
        """Let whatever is still running finish in the background; nothing waits for it."""
        self.pool.shutdown(wait=False, cancel_futures=True)


def _before(usage: Measure, project_id: str, gone: bool) -> Usage:
    if not gone:
        return usage(project_id)
    read = usage(project_id, [name for name, _, _ in READERS if name != "compute"])
    return Usage(read.figures, {**read.unavailable, "compute": NOVA_REFUSES})
