"""Deleting a Heat stack through Heat, as the admin project's admin.

The stack's trust died with its user, so nothing can act as its owner; an
admin of the admin project deletes it through its own project's URL and
Heat deletes the stack's resources with the admin's token, in its order
(tests/testbed/README.md). Heat answers 204 and works in its engine: the
deletion is confirmed by listing the project's stacks (``DELETE_COMPLETE``
stacks leave the listing); ``DELETE_FAILED`` fails the step with Heat's
reason, and the next plan removes what the stack still holds first.
Abandon is never used: its answer carries hidden parameters in clear text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openstack import exceptions as sdk_exc

from reaper.actions.outcomes import accepted
from reaper.executor import Result
from reaper.inventory import orchestration
from reaper.model import Resource


def _stack(conn: Any, r: Resource) -> Result:
    def delete() -> None:
        sdk_exc.raise_from_response(conn.orchestration.delete(orchestration.stack_path(r)))

    return accepted(delete)


class _Listed:
    """A listed stack as the runner's confirmation reads it; DELETE_FAILED is a failure."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.id = item["id"]
        status = str(item.get("stack_status") or "")
        self.status = "error_deleting" if status == orchestration.FAILED else status
        self.reason = item.get("stack_status_reason")


DELETERS: Mapping[str, Callable[[Any, Resource], Result]] = {
    orchestration.STACK.name: _stack,
}
LISTINGS: Mapping[str, Callable[[Any, str | None], Any]] = {
    orchestration.STACK.name: lambda c, p: [
        _Listed(s) for s in orchestration.stacks_of(c.orchestration, str(p))
    ],
}
