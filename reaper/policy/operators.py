"""The value operators of ``{key: ..., op: ..., value: ...}`` filters.

Each operator takes the resource's value (possibly :data:`~reaper.policy.fields.MISSING`
or ``None``) and the policy's value. Semantics, chosen so a typo or a
surprise never widens what reaper deletes:

``eq`` / ``ne``
    Equality where booleans only equal booleans (YAML ``1`` is not ``true``).
``in`` / ``not-in``
    The value equals one of a list.
``contains``
    A list value has the element, a mapping has the key, a string the substring.
``glob`` / ``regex``
    Shell-style match (``fnmatch``, case-sensitive) / ``re.search`` on a string
    (anchor with ``^...$`` for a whole-value match).
``lt`` ``le`` ``gt`` ``ge``
    Ordering between two numbers or two strings.
``present`` / ``absent``
    The field exists and is not null / the field is missing or null.

A missing field matches nothing but ``absent``, not even ``ne`` or ``not-in``
(a filter about a field the resource lacks says nothing about it). A null
value is data: it can equal ``null`` and is ``in`` a list holding null, but
ordering, glob and regex on null match nothing in filters and raise in protect
rules (``strict``), where an unknown answer must protect. Comparing a string
with a number, or globbing a list, raises :class:`PolicyEvaluationError`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from reaper.policy.errors import PolicyEvaluationError
from reaper.policy.fields import MISSING

Operator = Callable[[Any, Any], bool]


def equal(left: Any, right: Any) -> bool:
    """Structural equality in which booleans only ever equal booleans."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_list(left) and _is_list(right):
        if len(left) != len(right):
            return False
        return all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if _is_list(left) or _is_list(right) or isinstance(left, Mapping) or isinstance(right, Mapping):
        return False
    try:
        return bool(left == right)
    except Exception:
        # An exotic attribute value never equals policy data; it must not raise either.
        return False


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _ordered(op: str, compare: Callable[[Any, Any], bool]) -> Operator:
    def check(actual: Any, expected: Any) -> bool:
        numbers = (int, float)
        if isinstance(actual, bool) or isinstance(expected, bool):
            raise PolicyEvaluationError(f"cannot order booleans ({actual!r} {op} {expected!r})")
        if isinstance(actual, numbers) and isinstance(expected, numbers):
            return compare(actual, expected)
        if isinstance(actual, str) and isinstance(expected, str):
            return compare(actual, expected)
        raise PolicyEvaluationError(
            f"cannot compare {type(actual).__name__} {actual!r} {op} "
            f"{type(expected).__name__} {expected!r}"
        )

    return check


def _glob(actual: Any, pattern: str) -> bool:
    if not isinstance(actual, str):
        raise PolicyEvaluationError(f"glob needs a string, not {type(actual).__name__}")
    return fnmatch.fnmatchcase(actual, pattern)


def _regex(actual: Any, pattern: str) -> bool:
    if not isinstance(actual, str):
        raise PolicyEvaluationError(f"regex needs a string, not {type(actual).__name__}")
    return re.search(pattern, actual) is not None


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        if not isinstance(expected, str):
            raise PolicyEvaluationError("a string can only contain a string")
        return expected in actual
    if isinstance(actual, Mapping):
        return any(equal(k, expected) for k in actual)
    if _is_list(actual):
        return any(equal(item, expected) for item in actual)
    raise PolicyEvaluationError(f"contains needs a list, mapping or string, not {actual!r}")


OPERATORS: Final[Mapping[str, Operator]] = {
    "eq": equal,
    "ne": lambda a, b: not equal(a, b),
    "in": lambda a, b: any(equal(a, v) for v in b),
    "not-in": lambda a, b: not any(equal(a, v) for v in b),
    "contains": _contains,
    "glob": _glob,
    "regex": _regex,
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    "present": lambda a, b: a is not None,
    "absent": lambda a, b: a is None,
}
#: Operators that take no ``value``.
UNARY: Final = frozenset({"present", "absent"})
#: Operators whose ``value`` is a list.
LIST_VALUED: Final = frozenset({"in", "not-in"})
#: Operators that cannot say anything about a null value.
NEEDS_VALUE: Final = frozenset({"glob", "regex", "lt", "le", "gt", "ge", "contains"})


def apply(op: str, actual: Any, expected: Any, *, strict: bool) -> bool:
    """Whether ``actual op expected``; see the module docstring for missing and null."""
    if actual is MISSING:
        return op == "absent"
    if actual is None and op in NEEDS_VALUE:
        if strict:
            raise PolicyEvaluationError(f"the value is null, so {op} cannot be decided")
        return False
    return OPERATORS[op](actual, expected)
