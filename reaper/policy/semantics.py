"""What a schema cannot check: that a policy means something for these types and actions.

Run on each policy that passed the schema, against the registered resource
types and actions:

* trigger and resource names exist; a glob must match at least one;
* a **protect rule** tests only fields that every explicitly listed type has
  (a rule on a missing field would silently never protect). For types a
  glob matched, the rule applies to those that have its fields (the ``tag``
  rule to those with ``tags``, ``metadata`` or ``properties``); a rule that
  applies to no type at all is an error (a typo, surely);
* a **filter** tests a field at least one of the policy's types has (a
  filter on a field some types lack simply does not match those);
* every action applies to every type the policy covers, globs included (a
  glob does not silently narrow an action: list the types instead);
* an action appears once per policy, nothing follows an action that removes
  the resource, and grace periods (``after``) do not decrease down the list,
  because actions on one resource run in list order;
* a policy has actions or protect rules (or both), and filters only with actions.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reaper.actions.base import Action
from reaper.inventory.base import ResourceType
from reaper.model import ActionSpec
from reaper.policy.context import TRIGGERS
from reaper.policy.durations import format_duration, parse_duration
from reaper.policy.filters import Filter, build_filter
from reaper.policy.policies import Policy, ProtectRule
from reaper.policy.yamlsource import plain

Path = tuple[str | int, ...]
#: ``report(path, message, key=None)``: record an error at ``path`` (or at its key ``key``).
Report = Callable[..., None]

GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)


@dataclass
class Checker:
    """Compiles schema-valid policy mappings, reporting what they get wrong."""

    types: Mapping[str, ResourceType]
    actions: Mapping[str, type[Action]]
    report: Report

    def policy(
        self,
        data: Mapping[str, Any],
        path: Path,
        file: str,
        line: int,
        default_limit: int | None,
        invalid: frozenset[Path] = frozenset(),
    ) -> Policy | None:
        """The compiled policy, or None when the schema already found it broken.

        ``invalid`` holds the paths (relative to the policy, at most two deep:
        ``("protect", 1)``, ``("name",)``, ``()``) where the schema found
        errors. Everything else is still checked, so one run shows every
        problem, but only a policy without any is compiled.
        """

        def valid(key: str) -> list[tuple[int, Any]]:
            value = data.get(key)
            if (key,) in invalid or not isinstance(value, list):
                return []
            return [(i, v) for i, v in enumerate(value) if (key, i) not in invalid]

        def built(key: str) -> tuple[Filter, ...]:
            return tuple(build_filter(item, (*path, key, i)) for i, item in valid(key))

        name = data.get("name")
        if ("name",) in invalid or not isinstance(name, str):
            name = f"policies[{path[-1]}]"
        triggers = tuple(t for _, t in valid("triggers"))
        self._names(triggers, (*path, "triggers"), TRIGGERS, "trigger", valid("triggers"))
        resources = tuple(r for _, r in valid("resources"))
        explicit, globbed = self._resources(valid("resources"), (*path, "resources"))
        types = explicit | globbed
        protect = tuple(self._protect(rule, name, explicit, globbed) for rule in built("protect"))
        filters = built("filters")
        for item in filters:
            self._filter_fields(item, types)
        actions = self._actions(valid("actions"), (*path, "actions"), types, explicit)
        if invalid:
            return None
        if not actions and not protect:
            self.report(path, f"policy {name} does nothing: give it actions or protect rules")
        if filters and not actions:
            self.report(
                path,
                f"policy {name} has filters but no actions: filters only choose what "
                "actions apply to (use protect to keep resources safe)",
                key="filters",
            )
        limits = data.get("limits", {})
        return Policy(
            name=name,
            file=file,
            line=line,
            description=data.get("description", ""),
            triggers=triggers,
            resources=resources,
            types=frozenset(types),
            protect=tuple(p for p in protect if p is not None),
            filters=filters,
            actions=actions,
            max_resources=limits.get("max_resources", default_limit),
        )

    def _names(
        self,
        patterns: Iterable[str],
        path: Path,
        known: Iterable[str],
        what: str,
        indexed: list[tuple[int, Any]] | None = None,
    ) -> set[str]:
        known = list(known)
        found: set[str] = set()
        items = indexed if indexed is not None else list(enumerate(patterns))
        for i, pattern in items:
            if is_glob(pattern):
                matched = fnmatch.filter(known, pattern)
                if not matched:
                    self.report((*path, i), f"{what} pattern {pattern!r} matches no {what}")
                found.update(matched)
            elif pattern in known:
                found.add(pattern)
            else:
                close = difflib.get_close_matches(pattern, known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
                self.report((*path, i), f"unknown {what} {pattern!r} ({hint})")
        return found

    def _resources(self, indexed: list[tuple[int, str]], path: Path) -> tuple[set[str], set[str]]:
        """(types listed by name, further types only matched by a glob)."""
        explicit = {p for _, p in indexed if not is_glob(p) and p in self.types}
        matched = self._names((), path, sorted(self.types), "resource type", indexed)
        return explicit, matched - explicit

    def _protect(
        self, rule: Filter, policy: str, explicit: set[str], globbed: set[str]
    ) -> ProtectRule | None:
        ok = True
        for leaf in rule.leaves():
            for needed in leaf.requirements():
                lacking = sorted(t for t in explicit if not needed & self.types[t].all_fields)
                if lacking:
                    ok = False
                    self.report(
                        leaf.path,
                        f"protect rule '{leaf.describe()}' tests {_field_words(needed)}, which "
                        f"{', '.join(lacking)} {'does' if len(lacking) == 1 else 'do'} not have: "
                        "it could never protect them (list only types that have the field, "
                        "or use a glob)",
                    )
        if not ok:
            return None
        applies = set(explicit) | {t for t in globbed if _satisfies(rule, self.types[t])}
        if not applies:
            self.report(
                rule.path,
                f"protect rule '{rule.describe()}' applies to none of the policy's resource "
                f"types: none has {_field_words(_all_needs(rule))}",
            )
            return None
        return ProtectRule(filter=rule, policy=policy, types=frozenset(applies))

    def _filter_fields(self, rule: Filter, types: set[str]) -> None:
        for leaf in rule.leaves():
            for needed in leaf.requirements():
                if types and not any(needed & self.types[t].all_fields for t in types):
                    self.report(
                        leaf.path,
                        f"filter '{leaf.describe()}' tests {_field_words(needed)}, which none "
                        f"of the policy's resource types has: it could never match",
                    )

    def _actions(
        self, items: list[tuple[int, Any]], path: Path, types: set[str], explicit: set[str]
    ) -> tuple[ActionSpec, ...]:
        specs: list[ActionSpec] = []
        seen: dict[str, int] = {}
        remover: str | None = None
        latest: tuple[str, float] | None = None
        for i, item in items:
            where = (*path, i)
            spec = _spec(item)
            action = self.actions[spec.name]
            alien = sorted(types - set(action.resource_types))
            if alien:
                self.report(where, _inapplicable(spec.name, action, alien, explicit))
            if spec.name in seen:
                self.report(
                    where,
                    f"action {spec.name} is listed twice (first as actions[{seen[spec.name]}])",
                )
            seen.setdefault(spec.name, i)
            if remover is not None:
                self.report(
                    where,
                    f"action {spec.name} comes after {remover}, which removes the resource",
                )
            if action.removes:
                remover = remover or spec.name
            wait = spec.after.total_seconds() if spec.after else 0.0
            if latest is not None and wait < latest[1]:
                self.report(
                    where,
                    f"action {spec.name} (after {_grace(wait)}) would run before {latest[0]} "
                    f"(after {_grace(latest[1])}): grace periods must not decrease down the list",
                )
            if latest is None or wait >= latest[1]:
                latest = (spec.name, wait)
            specs.append(spec)
        return tuple(specs)


def _inapplicable(name: str, action: type[Action], alien: list[str], explicit: set[str]) -> str:
    applies = ", ".join(sorted(action.resource_types)) or "nothing"
    listed = [t for t in alien if t in explicit]
    globbed = [t for t in alien if t not in explicit]
    parts = []
    if listed:
        parts.append(", ".join(listed))
    if globbed:
        shown = ", ".join(globbed[:3]) + (
            f" and {len(globbed) - 3} more" if len(globbed) > 3 else ""
        )
        parts.append(f"{shown} (matched by a glob: list the types instead)")
    return f"action {name} does not apply to {'; '.join(parts)}; it applies to {applies}"


def _spec(item: Any) -> ActionSpec:
    if isinstance(item, str):
        return ActionSpec(name=item)
    params = {k: plain(v) for k, v in item.items() if k not in ("type", "after")}
    after = parse_duration(item["after"]) if "after" in item else None
    return ActionSpec(name=item["type"], params=params, after=after)


def _grace(seconds: float) -> str:
    return format_duration(dt.timedelta(seconds=seconds))


def _satisfies(rule: Filter, rtype: ResourceType) -> bool:
    return all(
        needed & rtype.all_fields for leaf in rule.leaves() for needed in leaf.requirements()
    )


def _all_needs(rule: Filter) -> frozenset[str]:
    return frozenset(f for leaf in rule.leaves() for needed in leaf.requirements() for f in needed)


def _field_words(names: Iterable[str]) -> str:
    names = sorted(names)
    if len(names) == 1:
        return f"field {names[0]}"
    return "any of the fields " + ", ".join(names)
