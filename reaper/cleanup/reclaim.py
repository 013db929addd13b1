"""Reclaim: what a project's cleanup gave back, measured by the services themselves.

Before a project's plan first runs, its usages are read and kept (once: a
retried, resumed or reopened cleanup keeps the first ``before``); after
each run they are read again, the difference is audited with the
tombstone's other records, and the Prometheus counter
``reaper_reclaimed_total{resource}`` grows by what this run added. Users
and domains hold no usage of their own (a domain's projects have
tombstones of their own), so only project tombstones are measured.

Services release usage a moment after their resource disappears (Nova
frees a server's Placement allocation after the server is gone; Cinder
commits a volume's quota after it is destroyed), so the ``after`` reading
is repeated until two agree, for a few seconds at most; a reading where
nothing of those services is left (the usual end of a cleanup) is final at
once, since zero cannot fall further.

A measurement never fails a cleanup: what could not be read is named in
the figures, and a store or audit error here is logged, not raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from reaper import log, reclaim
from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup.seams import Cloud
from reaper.model import IdentityKind, Tombstone
from reaper.reclaim import Usage
from reaper.store import Store

LOG = log.get(__name__)

#: Readings of ``after``, one second apart, until two agree.
SETTLE_READINGS = 5
#: Services that free usage a moment after the resource is gone.
RELEASED_LATER = ("placement.", "block_storage.", "shared_file_system.")


def measured(tombstone: Tombstone, cloud: Cloud) -> bool:
    return tombstone.identity.kind is IdentityKind.PROJECT and cloud.usage is not None


def before(
    cloud: Cloud,
    store: Store,
    tombstone: Tombstone,
    *,
    reading: Callable[[], Usage] | None = None,
) -> None:
    """Read and keep the project's usage, unless a first reading is kept already.

    ``reading`` is the reading taken already (the worker reads it beside
    discovery, :mod:`.early`), before anything of the project was touched.
    """
    if not measured(tombstone, cloud) or store.reclaim.get(tombstone.id) is not None:
        return
    assert cloud.usage is not None
    usage = cloud.usage
    try:
        now = reading() if reading is not None else usage(tombstone.identity.id)
        store.reclaim.record_before(tombstone.id, now.to_dict())
    except Exception:
        LOG.exception("usage before cleanup not recorded", tombstone=tombstone.id)


def after(
    cloud: Cloud,
    store: Store,
    trail: AuditTrail,
    tombstone: Tombstone,
    *,
    metrics: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, float] | None:
    """Read the usage again, keep it, audit and count what was reclaimed; the amounts."""
    if not measured(tombstone, cloud):
        return None
    usage = cloud.usage
    assert usage is not None
    try:
        kept = store.reclaim.get(tombstone.id)
        if kept is None:
            return None
        # Only figures read both times are reclaimed: ask what ``before`` could read.
        asked = Usage.from_dict(kept.before).services
        reading = settled(lambda: usage(tombstone.identity.id, asked), sleep)
        now = carried(reading, Usage.from_dict(kept.after) if kept.after else None)
        previous = store.reclaim.record_after(tombstone.id, now.to_dict())
        if previous is None:
            return None
        first = Usage.from_dict(previous.before)
        amounts = reclaim.reclaimed(first, now)
        counted = (
            reclaim.reclaimed(first, Usage.from_dict(previous.after)) if previous.after else {}
        )
        trail.append(
            action=AuditAction.READ,
            outcome=AuditOutcome.SUCCESS,
            target=AuditTarget.for_identity(tombstone.identity),
            reason=f"reclaimed: {reclaim.summary(amounts) or 'nothing measurable'}",
            tombstone_id=tombstone.id,
            plan_hash=tombstone.plan_hash,
            extra={
                "reclaimed": amounts,
                "before": previous.before,
                "after": now.to_dict(),
            },
        )
    except Exception:
        LOG.exception("usage after cleanup not recorded", tombstone=tombstone.id)
        return None
    if metrics is not None:
        metrics.reclaimed({name: amounts[name] - counted.get(name, 0) for name in amounts})
    return amounts


def carried(reading: Usage, previous: Usage | None) -> Usage:
    """``reading``, with the figures it could not read taken from the previous one.

    A service that failed to answer this time must not make what it gave
    back before look unmeasured: the counter would count it again when it
    answers next time.
    """
    if previous is None:
        return reading
    return Usage({**previous.figures, **reading.figures}, reading.unavailable)


def settled(read: Callable[[], Usage], sleep: Callable[[float], None]) -> Usage:
    """The first reading that the next one repeats (or the last of a few)."""
    last = read()
    if not any(v for name, v in last.figures.items() if name.startswith(RELEASED_LATER)):
        return last
    for _ in range(SETTLE_READINGS - 1):
        sleep(1.0)
        again = read()
        if again.figures == last.figures:
            return again
        last = again
    return last
