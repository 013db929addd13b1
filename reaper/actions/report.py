"""Report: name a resource in the plan and the audit trail, and change nothing.

For what reaper finds but must not remove: a DNS record in a live project
that still points at an address the deleted project released (dangling
DNS). It belongs to someone else, but the danger is real: the next tenant
given that address serves content under that name. The step's outcome says
what points at what; ``reaper_steps_total{action="report"}`` counts them, so
an alert can page whoever owns DNS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reaper.actions.base import Action, StepKey
from reaper.executor import Attempt, Result
from reaper.model import Resource


def describe(resource: Resource) -> str:
    attrs = resource.attributes
    what = f"{attrs.get('type') or resource.type} {resource.name or resource.id}"
    target = attrs.get("reaper_points_at")
    owner = f" (project {resource.project_id})" if resource.project_id else ""
    return f"reported: {what}{owner} points at {target}" if target else f"reported: {what}{owner}"


class Report(Action):
    name = "report"
    description = (
        "Name the resource in the plan and the audit trail (and count it in "
        "reaper_steps_total{action=report}) without changing it: for dangling DNS "
        "records of live projects."
    )
    resource_types: ClassVar[frozenset[str]] = frozenset({"dns.recordset"})

    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Attempt:
        return Attempt(Result.DONE, describe(resource))
