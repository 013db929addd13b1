"""Value operators: what each one means, and what missing and null mean."""

from __future__ import annotations

from typing import Any

import pytest

from reaper.policy import PolicyEvaluationError
from reaper.policy.fields import MISSING
from reaper.policy.operators import apply


@pytest.mark.parametrize(
    ("op", "actual", "expected", "result"),
    [
        ("eq", "ACTIVE", "ACTIVE", True),
        ("eq", "ACTIVE", "active", False),
        ("eq", 1, 1.0, True),
        ("eq", None, None, True),
        ("ne", "ERROR", "ACTIVE", True),
        ("ne", "ACTIVE", "ACTIVE", False),
        ("in", "public", ["public", "community"], True),
        ("in", "private", ["public", "community"], False),
        ("in", None, [None, "x"], True),
        ("not-in", "private", ["public", "community"], True),
        ("not-in", "public", ["public", "community"], False),
        ("contains", ["a", "reaper:keep"], "reaper:keep", True),
        ("contains", ["a"], "reaper:keep", False),
        ("contains", {"reaper:keep": ""}, "reaper:keep", True),
        ("contains", "web-prod-1", "prod", True),
        ("glob", "web-prod-1", "web-*", True),
        ("glob", "db-prod-1", "web-*", False),
        ("glob", "WEB-1", "web-*", False),
        ("regex", "web-prod-1", r"prod-\d$", True),
        ("regex", "web-prod-1", r"^prod", False),
        ("lt", 1, 2, True),
        ("le", 2, 2, True),
        ("gt", 3, 2, True),
        ("ge", 1, 2, False),
        ("lt", "2024-01-01T00:00:00Z", "2025-01-01", True),
        ("present", "x", None, True),
        ("present", None, None, False),
        ("absent", None, None, True),
        ("absent", "x", None, False),
    ],
)
def test_each_operator(op: str, actual: Any, expected: Any, result: bool) -> None:
    assert apply(op, actual, expected, strict=False) is result


def test_booleans_only_equal_booleans() -> None:
    """YAML ``value: 1`` must not match ``is_shared: true`` (Python says True == 1)."""
    assert apply("eq", True, 1, strict=False) is False
    assert apply("eq", 0, False, strict=False) is False
    assert apply("in", True, [1, "x"], strict=False) is False
    assert apply("eq", True, True, strict=False) is True


def test_lists_and_mappings_compare_structurally() -> None:
    assert apply("eq", ["a", "b"], ["a", "b"], strict=False)
    assert not apply("eq", ["a", "b"], ["b", "a"], strict=False)
    assert apply("eq", {"a": 1}, {"a": 1}, strict=False)
    assert not apply("eq", {"a": 1}, "a", strict=False)


@pytest.mark.parametrize("op", ["eq", "ne", "in", "not-in", "glob", "regex", "gt", "present"])
def test_a_missing_field_matches_nothing_but_absent(op: str) -> None:
    value: Any = ["x"] if op in ("in", "not-in") else "x"
    assert apply(op, MISSING, value, strict=False) is False
    assert apply(op, MISSING, value, strict=True) is False


def test_absent_holds_for_a_missing_field() -> None:
    assert apply("absent", MISSING, None, strict=False) is True


@pytest.mark.parametrize("op", ["lt", "gt", "glob", "regex", "contains"])
def test_null_cannot_be_ordered_or_matched(op: str) -> None:
    """A filter says no; a protect rule (strict) cannot tell, so it raises (and protects)."""
    assert apply(op, None, "x", strict=False) is False
    with pytest.raises(PolicyEvaluationError):
        apply(op, None, "x", strict=True)


@pytest.mark.parametrize(
    ("op", "actual", "expected"),
    [
        ("gt", "10", 5),
        ("lt", 5, "10"),
        ("gt", True, 0),
        ("glob", ["a"], "a*"),
        ("regex", 5, "5"),
        ("contains", 5, 5),
        ("contains", "abc", 5),
    ],
)
def test_type_mismatches_raise(op: str, actual: Any, expected: Any) -> None:
    with pytest.raises(PolicyEvaluationError):
        apply(op, actual, expected, strict=False)
