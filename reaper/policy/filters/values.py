"""The filters that compare one value of a resource: ``key``, ``age``, ``tag``, ``metadata``.

Each reads a field through :mod:`reaper.policy.fields` and compares it with
:mod:`reaper.policy.operators`; under ``strict`` (protect rules) a field the
resource does not carry, or a null an ordering needs, raises instead of not
matching.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from reaper.model import Resource
from reaper.policy import fields, operators
from reaper.policy.context import EvaluationContext
from reaper.policy.durations import format_duration, parse_duration
from reaper.policy.errors import MissingField, PolicyEvaluationError
from reaper.policy.filters.registry import DURATION_REF, Filter, Path, Schema, register, show
from reaper.policy.yamlsource import plain


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
