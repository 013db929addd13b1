"""What loaded policies do, per resource type and trigger, in evaluation order.

``reaper policy explain`` prints these rows. They follow the evaluation
order exactly (``evaluate.py``): configured protection (and the policies a
later file overrode, with the file that won), then the protect
rules of every applicable policy, then the acting policies, first match
wins. A (type, trigger) pair no policy acts on gets one row saying so, and
its protect rules are left out: protection only matters where something acts.
Types reaper cannot enumerate at all (Barbican's) get one row each saying
so and why (:mod:`reaper.inventory.uncovered`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reaper.inventory.uncovered import UNCOVERED
from reaper.model import ActionSpec
from reaper.policy.context import TRIGGERS
from reaper.policy.durations import format_duration
from reaper.policy.filters import show
from reaper.policy.policies import PolicySet

COLUMNS = (
    "Resource Type",
    "Trigger",
    "Order",
    "Policy",
    "Protect",
    "Filters",
    "Actions",
    "Limit",
)


@dataclass(frozen=True)
class ExplainRow:
    resource_type: str
    trigger: str
    #: ``config``, ``override`` and ``protect`` rows come first, then ``1``, ``2``...
    #: (first match wins).
    order: str
    policy: str
    protect: str = ""
    filters: str = ""
    actions: str = ""
    #: ``max_resources`` of an acting policy: more matches hold the plan.
    limit: str = ""

    def as_tuple(self) -> tuple[str, ...]:
        return (
            self.resource_type,
            self.trigger,
            self.order,
            self.policy,
            self.protect,
            self.filters,
            self.actions,
            self.limit,
        )


def describe_action(spec: ActionSpec) -> str:
    """``delete after 7d``, ``evidence_snapshot {retention: 90d}``."""
    text = spec.name
    if spec.params:
        text += " " + show(dict(sorted(spec.params.items())))
    if spec.after:
        text += f" after {format_duration(spec.after)}"
    return text


def explain(
    policies: PolicySet,
    *,
    resource_types: Sequence[str] = (),
    triggers: Sequence[str] = (),
    protected_project_ids: Iterable[str] = (),
    protected_domain_ids: Iterable[str] = (),
    acting_only: bool = False,
) -> list[ExplainRow]:
    """Rows for every registered type and trigger matching the given globs (all by default).

    ``acting_only`` leaves out the pairs no policy acts on (``reaper policy
    explain`` without ``--all``: what the policies do, not the long list of
    what they do not); the types reaper cannot enumerate are always said.
    """
    rows: list[ExplainRow] = []
    projects = sorted(protected_project_ids)
    domains = sorted(protected_domain_ids)
    if projects:
        rows.append(ExplainRow("*", "*", "config", "protected_project_ids", ", ".join(projects)))
    if domains:
        rows.append(ExplainRow("*", "*", "config", "protected_domain_ids", ", ".join(domains)))
    # A later file's policy of an earlier file's name is the one used: say which won.
    for override in policies.overrides:
        used = f"{override.winner} overrides {override.loser}"
        rows.append(ExplainRow("*", "*", "override", override.name, actions=used))
    for rtype in _matching(sorted(policies.types), resource_types):
        for trigger in _matching(TRIGGERS, triggers):
            pair = _pair(policies, rtype, trigger)
            if acting_only and [r.order for r in pair] == ["-"]:
                continue
            rows.extend(pair)
    # What reaper cannot find at all: said, so that an absent row is never read as "none".
    for rtype in _matching(sorted(UNCOVERED), resource_types):
        rows.append(ExplainRow(rtype, "*", "-", "", actions=UNCOVERED[rtype]))
    return rows


def _pair(policies: PolicySet, rtype: str, trigger: str) -> list[ExplainRow]:
    applicable = policies.applicable(trigger, rtype)
    acting = [p for p in applicable if p.actions]
    if not acting:
        return [ExplainRow(rtype, trigger, "-", "", actions="none (skip: no policy acts)")]
    rows = [
        ExplainRow(
            rtype,
            trigger,
            "protect",
            p.name,
            protect="\n".join(r.describe() for r in p.protect if rtype in r.types),
        )
        for p in applicable
        if any(rtype in r.types for r in p.protect)
    ]
    for n, p in enumerate(acting, 1):
        rows.append(
            ExplainRow(
                rtype,
                trigger,
                str(n),
                p.name,
                filters=p.rule,
                actions="\n".join(describe_action(a) for a in p.actions),
                limit="" if p.max_resources is None else str(p.max_resources),
            )
        )
    return rows


def _matching(names: Iterable[str], patterns: Sequence[str]) -> list[str]:
    names = list(names)
    if not patterns:
        return names
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def unknown_names(patterns: Sequence[str], known: Iterable[str], *, what: str) -> list[str]:
    """One problem per pattern that matches none of ``known``, with the likeliest name.

    A typo in ``--resource-type`` would otherwise print an empty table, which
    reads as "no policy touches it".
    """
    import difflib

    names = sorted(set(known))
    problems = []
    for pattern in patterns:
        if _matching(names, [pattern]):
            continue
        close = difflib.get_close_matches(pattern, names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(names)}"
        problems.append(f"{what} {pattern!r} matches nothing: {hint}")
    return problems
