"""The filter base class, the registry of filters by keyword, and what every filter shares.

A filter class registers itself with :func:`register` under the key that
identifies it in a policy; :func:`build_filter` finds it again from a mapping.
Registration is at import, so :mod:`reaper.policy.filters` imports every
module of filters before anyone reads :data:`FILTERS`, in the order the
keywords are tried.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from reaper.model import Resource
from reaper.policy.context import EvaluationContext

Path = tuple[str | int, ...]
Schema = dict[str, Any]

FILTERS: dict[str, type[Filter]] = {}
F = TypeVar("F", bound="type[Filter]")

FILTER_REF: Schema = {"$ref": "#/$defs/filter"}
DURATION_REF: Schema = {"$ref": "#/$defs/duration"}


def register(cls: F) -> F:
    """Class decorator: make ``cls`` available to policies under ``cls.keyword``."""
    if cls.keyword in FILTERS:
        raise ValueError(f"filter {cls.keyword!r} is registered twice")
    FILTERS[cls.keyword] = cls
    return cls


@dataclass(frozen=True)
class Filter(abc.ABC):
    #: The key that identifies this filter's mapping in a policy.
    keyword: ClassVar[str]
    #: How errors and the manual name it.
    title: ClassVar[str]

    #: Where the filter is in its policy document (for error positions).
    path: Path = field(default=(), compare=False, kw_only=True)

    @classmethod
    @abc.abstractmethod
    def schema(cls) -> Schema:
        """The JSON schema of this filter's mapping; may ``$ref`` ``#/$defs/filter``."""

    @classmethod
    @abc.abstractmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> Filter:
        """The filter for schema-valid ``data``."""

    @abc.abstractmethod
    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        """Whether the resource satisfies the filter; raises PolicyEvaluationError."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One readable line."""

    def requirements(self) -> tuple[frozenset[str], ...]:
        """Fields needed: for each set, a type must have at least one of its names."""
        return ()

    def leaves(self) -> Iterator[Filter]:
        yield self


def build_filter(data: Mapping[str, Any], path: Path = ()) -> Filter:
    """The registered filter that ``data`` (already schema-valid) describes."""
    for keyword, cls in FILTERS.items():
        if keyword in data:
            return cls.build(data, path)
    raise ValueError(f"no registered filter for {sorted(data)}")


def build_all(items: Sequence[Mapping[str, Any]], path: Path) -> tuple[Filter, ...]:
    return tuple(build_filter(item, (*path, i)) for i, item in enumerate(items))


def show(value: Any) -> str:
    """A policy value the way the policy file would spell it (flow YAML)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.:/*?@+-]*", value)
        return value if plain and value not in ("true", "false", "null") else json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def describe_all(filters: Sequence[Filter]) -> str:
    """The conjunction a ``filters:`` list means, as one line."""
    if not filters:
        return "every resource"
    return " and ".join(f.describe() for f in filters)
