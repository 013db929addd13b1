"""What an action is: a named remediation with its own parameter schema.

Actions are registered in the ``reaper.actions`` stevedore namespace. Each
declares the JSON schema of its parameters and the resource types it
applies to, so a policy that asks for ``quarantine`` on a network, or gives
``evidence_snapshot`` an unknown parameter, fails validation before
anything runs (the Cloud Custodian way). Whether an action really mutates
is decided by the executor, never by the action: dry-run hands actions a
client that refuses every mutating request.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from reaper.model import Resource


@dataclass(frozen=True)
class StepKey:
    """Which step of which plan an attempt belongs to.

    The same for every attempt of a step and for every execution of the same
    plan, so an action that creates something (an evidence copy) can name it
    after the step and find it again instead of creating another.
    """

    plan_hash: str
    step_id: str

    def __str__(self) -> str:
        return f"{self.plan_hash}/{self.step_id}"


class Action(abc.ABC):
    #: The name policies use.
    name: ClassVar[str]
    #: JSON schema of the parameters (an object schema).
    schema: ClassVar[Mapping[str, Any]] = {"type": "object", "additionalProperties": False}
    #: Resource types the action applies to.
    resource_types: ClassVar[frozenset[str]] = frozenset()
    #: Whether the action removes the resource (the planner orders removals by dependency).
    removes: ClassVar[bool] = False
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def run(
        self,
        client: Any,
        resource: Resource,
        params: Mapping[str, Any],
        step: StepKey | None = None,
    ) -> Any:
        """Perform the action once; the executor retries and confirms.

        ``step`` names the step the attempt belongs to (the runner always
        gives it); actions that create nothing may ignore it.
        """
