"""Independent lookups sent together: a bounded pool, answers in the order asked.

After the listings, discovery asks follow-up questions by resource (the
ports on each network, the rules naming each group, the servers booted
from each image, Keystone about each project that uses something). They do
not depend on one another, so on a cloud 200 ms away each one asked after
the previous costs a round trip: a dozen of them cost seconds per plan.
:func:`run_all` sends them together instead.

Invariants:

* the answers come back in the order of the jobs, whatever order they
  finished in, so what is built from them (and the plan's hash) is the
  same for the same cloud;
* an error is the answer of its job alone, never raised here: the caller
  decides, job by job, what it fails closed on (nothing is lost or
  swallowed, and no other job is cancelled by it);
* at most :data:`WORKERS` jobs run at once. Each request still takes a slot
  of the process's per-service budget (:mod:`reaper.budget`), so the
  services' caps hold whatever this pool's size.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: Jobs in flight at once: enough for a tenant's follow-ups in one round; the
#: per-service budget, not this, is what bounds what a service sees.
WORKERS = 16


@dataclass(frozen=True)
class Answer(Generic[T]):
    """One job's result, or the exception it raised (``error`` is ``None`` on success)."""

    value: T | None = None
    error: Exception | None = None


def run_all(jobs: Sequence[Callable[[], T]], *, workers: int = WORKERS) -> list[Answer[T]]:
    """Every job's :class:`Answer`, in the order of ``jobs``.

    One job (or ``workers == 1``) runs on the calling thread: no pool for nothing.
    """
    if len(jobs) <= 1 or workers <= 1:
        return [_attempt(job) for job in jobs]
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(workers, len(jobs)), thread_name_prefix="reaper-lookup"
    ) as pool:
        futures = [pool.submit(_attempt, job) for job in jobs]
        return [future.result() for future in futures]


def _attempt(job: Callable[[], T]) -> Answer[T]:
    try:
        return Answer(value=job())
    except Exception as exc:  # the caller's to judge, per job (fail closed there)
        return Answer(error=exc)
