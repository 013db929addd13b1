"""Filters: the conditions of ``protect`` rules and ``filters``, one class each.

Filters are registered with :func:`register` under the key that identifies
them in a policy (``key`` for a value filter, ``age``, ``tag``, ``metadata``,
``and``, ``or``, ``not``), and each declares the JSON schema of its mapping.
The policy schema is assembled from these declarations (``schema.py``), so
adding a filter is one class here and nothing else.

Every filter answers three questions:

* ``match(resource, ctx, strict=...)``: does it hold? Errors raise
  :class:`PolicyEvaluationError`; the caller decides what an error means
  (protect rules: protected; filters: no action). ``strict`` is set for
  protect rules, where a field the resource does not carry at all, or a null
  that an ordering needs, is an error instead of a non-match.
* ``requirements()``: which fields it needs, as alternatives (the tag filter
  is satisfied by any of ``tags``, ``metadata``, ``properties``), so the
  loader can check a rule against each resource type's declared fields.
* ``describe()``: one readable line, for decisions and ``policy explain``.

``and``/``or``/``not`` use three-valued logic: a child that cannot be
evaluated makes the whole unknown (an error) only when the known children do
not settle the answer (``or`` with one true child is true).
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from reaper.model import Resource
from reaper.policy import fields, operators
from reaper.policy.context import EvaluationContext
from reaper.policy.durations import format_duration, parse_duration
from reaper.policy.errors import MissingField, PolicyEvaluationError
from reaper.policy.yamlsource import plain

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


def _op_value_rules() -> list[Schema]:
    """Which ``value`` each ``op`` needs (shared by the value and metadata filters)."""
    with_list = sorted(operators.LIST_VALUED)
    ordered = ["lt", "le", "gt", "ge"]
    scalar = {
        "type": ["string", "number", "boolean", "null"],
        "x-errors": {
            "type": "{instance} is not a single value: eq, ne and contains compare one "
            "value (use op: in or not-in for a list)"
        },
    }
    return [
        _when_op(None, {"required": ["value"]}),
        _when_op(["eq", "ne", "contains"], {"required": ["value"]}),
        _when_op(with_list, {"required": ["value"], "properties": {"value": {"type": "array"}}}),
        _when_op(["glob"], {"required": ["value"], "properties": {"value": {"type": "string"}}}),
        _when_op(
            ["regex"],
            {"required": ["value"], "properties": {"value": {"type": "string", "format": "regex"}}},
        ),
        _when_op(
            ordered,
            {"required": ["value"], "properties": {"value": {"type": ["string", "number"]}}},
        ),
        _when_op(
            sorted(operators.UNARY),
            {
                "not": {"required": ["value"]},
                "x-errors": {"not": "op {op} takes no value"},
            },
        ),
        _when_op(None, {"properties": {"value": scalar}}),
        _when_op(["eq", "ne", "contains"], {"properties": {"value": scalar}}),
    ]


def _when_op(ops: list[str] | None, then: Schema) -> Schema:
    if "required" in then:
        label = "eq (the default op)" if ops is None else "/".join(ops)
        then = {**then, "x-errors": {"required": f"{label} needs a value"}}
    if ops is None:
        return {"if": {"not": {"required": ["op"]}}, "then": then}
    return {"if": {"required": ["op"], "properties": {"op": {"enum": ops}}}, "then": then}


def _op_schema() -> Schema:
    return {"enum": sorted(operators.OPERATORS)}


@register
@dataclass(frozen=True)
class ValueFilter(Filter):
    """``{key: is_shared, op: eq, value: true}``: an attribute compared with a value."""

    keyword: ClassVar[str] = "key"
    title: ClassVar[str] = "value filter"

    key: str = ""
    op: str = "eq"
    value: Any = None

    @classmethod
    def schema(cls) -> Schema:
        return {
            "type": "object",
            "x-name": cls.title,
            "properties": {
                "key": {
                    "type": "string",
                    "pattern": r"^[^.\s]+(\.[^.\s]+)*$",
                    "x-errors": {"pattern": "{instance!r} is not a field name or dotted path"},
                },
                "op": _op_schema(),
                "value": {},
            },
            "required": ["key"],
            "additionalProperties": False,
            "allOf": _op_value_rules(),
        }

    @classmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> ValueFilter:
        return cls(
            key=data["key"], op=data.get("op", "eq"), value=plain(data.get("value")), path=path
        )

    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        head = fields.first(self.key)
        if strict and fields.top(resource, head) is fields.MISSING:
            raise MissingField(f"the resource has no field {head}")
        actual = fields.get(resource, self.key)
        return operators.apply(self.op, actual, self.value, strict=strict)

    def describe(self) -> str:
        if self.op in operators.UNARY:
            return f"{self.key} {self.op}"
        return f"{self.key} {self.op} {show(self.value)}"

    def requirements(self) -> tuple[frozenset[str], ...]:
        return (frozenset({fields.first(self.key)}),)


_AGE_WORDS = {"gt": "older than", "ge": "at least", "lt": "younger than", "le": "at most"}


@register
@dataclass(frozen=True)
class AgeFilter(Filter):
    """``{age: {key: created_at, op: gt, value: 1d}}``: how old a timestamp is, at ``ctx.now``."""

    keyword: ClassVar[str] = "age"
    title: ClassVar[str] = "age filter"

    key: str = "created_at"
    op: str = "gt"
    value: dt.timedelta = dt.timedelta(0)

    @classmethod
    def schema(cls) -> Schema:
        return {
            "type": "object",
            "x-name": cls.title,
            "properties": {
                "age": {
                    "type": "object",
                    "x-name": cls.title,
                    "properties": {
                        "key": {"type": "string", "minLength": 1},
                        "op": {"enum": sorted(_AGE_WORDS)},
                        "value": DURATION_REF,
                    },
                    "required": ["value"],
                    "additionalProperties": False,
                }
            },
            "required": ["age"],
            "additionalProperties": False,
        }

    @classmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> AgeFilter:
        spec = data["age"]
        return cls(
            key=spec.get("key", "created_at"),
            op=spec.get("op", "gt"),
            value=parse_duration(spec["value"]),
            path=path,
        )

    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        head = fields.first(self.key)
        if strict and fields.top(resource, head) is fields.MISSING:
            raise MissingField(f"the resource has no field {head}")
        raw = fields.get(resource, self.key)
        if raw is fields.MISSING or raw is None:
            if strict:
                raise PolicyEvaluationError(f"{self.key} has no value, so its age is unknown")
            return False
        age = ctx.now - parse_timestamp(raw)
        return bool(operators.OPERATORS[self.op](age.total_seconds(), self.value.total_seconds()))

    def describe(self) -> str:
        word = _AGE_WORDS[self.op]
        old = "" if self.op in ("gt", "lt") else " old"
        return f"{self.key} {word} {format_duration(self.value)}{old}"

    def requirements(self) -> tuple[frozenset[str], ...]:
        return (frozenset({fields.first(self.key)}),)


def parse_timestamp(raw: Any) -> dt.datetime:
    """An SDK timestamp (ISO 8601, ``Z`` or offset, naive meaning UTC) as an aware datetime."""
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise PolicyEvaluationError(f"{raw!r} is not an ISO 8601 timestamp") from exc
    else:
        raise PolicyEvaluationError(f"{raw!r} is not a timestamp")
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@register
@dataclass(frozen=True)
class TagFilter(Filter):
    """``{tag: reaper:keep}``: an element of ``tags``, or a key of ``metadata``/``properties``.

    Nova and Neutron have tags, Cinder only metadata, Glance both plus
    properties; one filter covers what people mean by "tagged" everywhere.
    """

    keyword: ClassVar[str] = "tag"
    title: ClassVar[str] = "tag filter"

    tag: str = ""

    @classmethod
    def schema(cls) -> Schema:
        return {
            "type": "object",
            "x-name": cls.title,
            "properties": {"tag": {"type": "string", "minLength": 1}},
            "required": ["tag"],
            "additionalProperties": False,
        }

    @classmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> TagFilter:
        return cls(tag=data["tag"], path=path)

    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        seen = False
        problems: list[str] = []
        for name in fields.TAG_FIELDS:
            value = fields.top(resource, name)
            if value is fields.MISSING:
                continue
            seen = True
            if value is None:
                continue
            if name == "tags":
                if isinstance(value, (list, tuple)):
                    if self.tag in value:
                        return True
                else:
                    problems.append(f"tags is {type(value).__name__}, not a list")
            elif isinstance(value, Mapping):
                if self.tag in value:
                    return True
            else:
                problems.append(f"{name} is {type(value).__name__}, not a mapping")
        if problems:
            raise PolicyEvaluationError("; ".join(problems))
        if strict and not seen:
            raise MissingField(f"the resource has none of {', '.join(fields.TAG_FIELDS)}")
        return False

    def describe(self) -> str:
        return f"tagged {show(self.tag)}"

    def requirements(self) -> tuple[frozenset[str], ...]:
        return (frozenset(fields.TAG_FIELDS),)


@register
@dataclass(frozen=True)
class MetadataFilter(Filter):
    """``{metadata: {key: owner, op: eq, value: ops}}``: one key of ``metadata``/``properties``.

    The key is literal (metadata keys often contain dots); the value comes
    from ``metadata``, else from Glance's ``properties``.
    """

    keyword: ClassVar[str] = "metadata"
    title: ClassVar[str] = "metadata filter"

    key: str = ""
    op: str = "eq"
    value: Any = None

    @classmethod
    def schema(cls) -> Schema:
        return {
            "type": "object",
            "x-name": cls.title,
            "properties": {
                "metadata": {
                    "type": "object",
                    "x-name": cls.title,
                    "properties": {
                        "key": {"type": "string", "minLength": 1},
                        "op": _op_schema(),
                        "value": {},
                    },
                    "required": ["key"],
                    "additionalProperties": False,
                    "allOf": _op_value_rules(),
                }
            },
            "required": ["metadata"],
            "additionalProperties": False,
        }

    @classmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> MetadataFilter:
        spec = data["metadata"]
        return cls(
            key=spec["key"],
            op=spec.get("op", "eq"),
            value=plain(spec.get("value")),
            path=path,
        )

    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        seen = False
        actual: Any = fields.MISSING
        for name in fields.METADATA_FIELDS:
            mapping = fields.top(resource, name)
            if mapping is fields.MISSING:
                continue
            seen = True
            if mapping is None:
                continue
            if not isinstance(mapping, Mapping):
                raise PolicyEvaluationError(f"{name} is {type(mapping).__name__}, not a mapping")
            if self.key in mapping:
                actual = mapping[self.key]
                break
        if strict and not seen:
            raise MissingField("the resource has neither metadata nor properties")
        return operators.apply(self.op, actual, self.value, strict=strict)

    def describe(self) -> str:
        ref = f"metadata[{show(self.key)}]"
        if self.op in operators.UNARY:
            return f"{ref} {self.op}"
        return f"{ref} {self.op} {show(self.value)}"

    def requirements(self) -> tuple[frozenset[str], ...]:
        return (frozenset(fields.METADATA_FIELDS),)


@dataclass(frozen=True)
class _Composite(Filter):
    children: tuple[Filter, ...] = ()

    def leaves(self) -> Iterator[Filter]:
        for child in self.children:
            yield from child.leaves()

    def requirements(self) -> tuple[frozenset[str], ...]:
        return tuple(r for child in self.children for r in child.requirements())

    def _outcomes(
        self, resource: Resource, ctx: EvaluationContext, strict: bool
    ) -> tuple[list[bool], PolicyEvaluationError | None]:
        results: list[bool] = []
        error: PolicyEvaluationError | None = None
        for child in self.children:
            try:
                results.append(child.match(resource, ctx, strict=strict))
            except PolicyEvaluationError as exc:
                error = error or exc
        return results, error


def _conjunction(results: list[bool], error: PolicyEvaluationError | None, decisive: bool) -> bool:
    """``and`` (decisive=False) or ``or`` (decisive=True) in three-valued logic."""
    if decisive in results:
        return decisive
    if error is not None:
        raise error
    return not decisive


def _list_schema(keyword: str, title: str) -> Schema:
    return {
        "type": "object",
        "x-name": title,
        "properties": {keyword: {"type": "array", "minItems": 1, "items": FILTER_REF}},
        "required": [keyword],
        "additionalProperties": False,
    }


@register
@dataclass(frozen=True)
class AndFilter(_Composite):
    """``{and: [...]}``: every child holds."""

    keyword: ClassVar[str] = "and"
    title: ClassVar[str] = "and filter"

    @classmethod
    def schema(cls) -> Schema:
        return _list_schema(cls.keyword, cls.title)

    @classmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> AndFilter:
        return cls(children=build_all(data["and"], (*path, "and")), path=path)

    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        return _conjunction(*self._outcomes(resource, ctx, strict), decisive=False)

    def describe(self) -> str:
        return "(" + " and ".join(c.describe() for c in self.children) + ")"


@register
@dataclass(frozen=True)
class OrFilter(_Composite):
    """``{or: [...]}``: at least one child holds."""

    keyword: ClassVar[str] = "or"
    title: ClassVar[str] = "or filter"

    @classmethod
    def schema(cls) -> Schema:
        return _list_schema(cls.keyword, cls.title)

    @classmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> OrFilter:
        return cls(children=build_all(data["or"], (*path, "or")), path=path)

    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        return _conjunction(*self._outcomes(resource, ctx, strict), decisive=True)

    def describe(self) -> str:
        return "(" + " or ".join(c.describe() for c in self.children) + ")"


@register
@dataclass(frozen=True)
class NotFilter(_Composite):
    """``{not: {...}}`` or ``{not: [...]}``: the child (or the conjunction of the list) fails.

    A missing field makes a filter false, so ``not`` of it is true: write
    ``{key: x, op: present}`` alongside when absence should not count.
    """

    keyword: ClassVar[str] = "not"
    title: ClassVar[str] = "not filter"

    @classmethod
    def schema(cls) -> Schema:
        return {
            "type": "object",
            "x-name": cls.title,
            "properties": {
                "not": {
                    "if": {"type": "array"},
                    "then": {"minItems": 1, "items": FILTER_REF},
                    "else": FILTER_REF,
                }
            },
            "required": ["not"],
            "additionalProperties": False,
        }

    @classmethod
    def build(cls, data: Mapping[str, Any], path: Path) -> NotFilter:
        inner = data["not"]
        if isinstance(inner, list):
            children = build_all(inner, (*path, "not"))
        else:
            children = (build_filter(inner, (*path, "not")),)
        return cls(children=children, path=path)

    def match(self, resource: Resource, ctx: EvaluationContext, *, strict: bool = False) -> bool:
        return not _conjunction(*self._outcomes(resource, ctx, strict), decisive=False)

    def describe(self) -> str:
        return "not " + (
            self.children[0].describe()
            if len(self.children) == 1
            else "(" + " and ".join(c.describe() for c in self.children) + ")"
        )


__all__ = [
    "FILTERS",
    "AgeFilter",
    "AndFilter",
    "Filter",
    "MetadataFilter",
    "NotFilter",
    "OrFilter",
    "TagFilter",
    "ValueFilter",
    "build_filter",
    "describe_all",
    "register",
]
