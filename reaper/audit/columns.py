"""The fields of a record copied into query columns, and CADF time.

Kept apart from :mod:`reaper.audit.record` (which needs pycadf and its
oslo dependencies) because verification, in worker processes too, needs
only these: a worker that imports less starts faster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple

#: CADF's timestamp format (what pycadf and Keystone write), always UTC here.
CADF_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+0000"


def cadf_time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime(CADF_TIME_FORMAT)


def parse_cadf_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(dt.timezone.utc)


class RecordIndex(NamedTuple):
    """The fields of a record that are copied into columns for queries.

    Verify compares them with the body: a column edited to hide a record from
    ``audit show`` is reported like any other edit. A named tuple so that
    comparing it with the body's fields is one tuple comparison.
    """

    recorded_at: str
    action: str
    outcome: str
    target_type: str | None
    target_id: str | None
    tombstone_id: str | None
    plan_hash: str | None


def index_of(body: Mapping[str, Any]) -> RecordIndex:
    ours = body.get("reaper") or {}
    target = body.get("target") or {}
    return RecordIndex(
        body.get("eventTime", ""),
        body.get("action", ""),
        body.get("outcome", ""),
        ours.get("target_type"),
        target.get("id"),
        ours.get("tombstone_id"),
        (ours.get("plan") or {}).get("hash"),
    )
