"""``and``, ``or`` and ``not``: filters of filters, in three-valued logic.

A child that cannot be evaluated makes the whole unknown (its error is
raised) only when the known children do not settle the answer: ``or`` with
one true child is true, ``and`` with one false child is false.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from reaper.model import Resource
from reaper.policy.context import EvaluationContext
from reaper.policy.errors import PolicyEvaluationError
from reaper.policy.filters.registry import (
    FILTER_REF,
    Filter,
    Path,
    Schema,
    build_all,
    build_filter,
    register,
)


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
