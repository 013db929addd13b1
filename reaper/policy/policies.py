"""Loaded policies: what the loader compiles a policy file into.

These are the checked, resolved forms: resource-type globs are already
expanded against the registered types, each protect rule knows the types it
applies to, durations are timedeltas. Evaluation works on these only, never
on the YAML. Judging resources against them is
:func:`reaper.policy.evaluate.evaluate` (which imports this module, never the
other way round).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reaper.inventory.base import ResourceType
from reaper.model import ActionSpec
from reaper.policy.filters import Filter, describe_all


@dataclass(frozen=True)
class ProtectRule:
    """One protect rule of one policy, and the resource types it guards."""

    filter: Filter
    policy: str
    #: Types listed explicitly, plus those matched by a glob that have every field it tests.
    types: frozenset[str]

    def describe(self) -> str:
        return self.filter.describe()


@dataclass(frozen=True)
class Policy:
    name: str
    file: str
    line: int
    description: str = ""
    #: Trigger names or globs, as written.
    triggers: tuple[str, ...] = ()
    #: Resource type names or globs, as written.
    resources: tuple[str, ...] = ()
    #: The registered resource types ``resources`` resolves to.
    types: frozenset[str] = frozenset()
    protect: tuple[ProtectRule, ...] = ()
    filters: tuple[Filter, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    #: More matching resources than this holds the plan (blast radius); None: no limit.
    max_resources: int | None = None

    def applies(self, trigger: str, resource_type: str) -> bool:
        return resource_type in self.types and any(
            fnmatch.fnmatchcase(trigger, pattern) for pattern in self.triggers
        )

    @property
    def rule(self) -> str:
        """The filter set, as one readable line (``Decision.rule`` of what it acts on)."""
        return describe_all(self.filters)


@dataclass(frozen=True)
class Override:
    """A policy of a later file that replaced an earlier file's policy of the same name."""

    name: str
    #: ``file:line`` of the policy that is used.
    winner: str
    #: ``file:line`` of the one it replaced.
    loser: str


@dataclass(frozen=True)
class PolicySet:
    """Every loaded policy, in evaluation order, with the types they were checked against."""

    policies: tuple[Policy, ...]
    types: Mapping[str, ResourceType]
    #: SHA-256 of the canonical policy content: plans record which policies made them.
    digest: str
    files: tuple[str, ...] = ()
    #: Policies a later file redefined (see :mod:`reaper.policy.loader`), in load order.
    overrides: tuple[Override, ...] = ()
    _applicable: dict[tuple[str, str], tuple[Policy, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def applicable(self, trigger: str, resource_type: str) -> tuple[Policy, ...]:
        """Policies whose triggers and resources cover this pair, in load order."""
        key = (trigger, resource_type)
        if key not in self._applicable:
            self._applicable[key] = tuple(
                p for p in self.policies if p.applies(trigger, resource_type)
            )
        return self._applicable[key]

    def __len__(self) -> int:
        return len(self.policies)

    def names(self) -> Sequence[str]:
        return [p.name for p in self.policies]
