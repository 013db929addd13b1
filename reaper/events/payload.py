"""How large a notification's payload is, as reaper measures it against ``max_payload_bytes``.

The size is that of the payload encoded again as JSON (``json.dumps``, so
pure ASCII), whatever its encoding on the wire. Encoding every payload only
to measure it cost as much as the rest of parsing it, so :func:`oversize`
first takes a cheap upper bound and encodes only a payload the bound cannot
vouch for.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def oversize(payload: Any, limit: int) -> int | None:
    """The payload's size in bytes (:func:`size`) if it is over ``limit``; ``None`` if not.

    Encoding every payload again only to measure it cost as much as the rest
    of parsing it. :func:`_bound` is a cheap upper bound of that size for the
    plain JSON values notifications carry: at or under ``limit`` the payload
    is within it, and only a payload the bound cannot vouch for is encoded.
    The answer is the one ``size(payload) > limit`` gives.
    """
    if _bound(payload, _BOUND_DEPTH) <= limit:
        return None
    measured = size(payload)
    return measured if measured > limit else None


#: How deep :func:`_bound` looks into a payload (CADF's are three levels deep).
_BOUND_DEPTH = 6


def _bound(value: Any, depth: int) -> int:
    """At least ``len(json.dumps(value))``, cheaply; ``sys.maxsize`` when unsure.

    ``json.dumps`` writes pure ASCII: a character of a string takes at most
    12 characters (an astral one, as two ``\\uXXXX`` escapes), plus the quotes;
    an object adds its braces and ``": "`` and ``", "`` per member. Other
    types (floats, subclasses, keys that are not strings, anything ``default``
    would turn into text) are not bounded here.
    """
    kind = type(value)
    if kind is str:
        return 12 * len(value) + 2
    if value is None or kind is bool:
        return 5
    if kind is int:
        return len(str(value)) if -(10**18) < value < 10**18 else sys.maxsize
    if depth <= 0:
        return sys.maxsize
    if kind is dict:
        total = 2
        for key, item in value.items():
            if type(key) is not str:
                return sys.maxsize
            total += 12 * len(key) + 6 + _bound(item, depth - 1)
        return total
    if kind is list:
        return 2 + sum(_bound(item, depth - 1) + 2 for item in value)
    return sys.maxsize


def size(payload: Any) -> int:
    """The payload's length as ``json.dumps`` writes it; ``sys.maxsize`` if too deep."""
    try:
        return len(json.dumps(payload, default=str).encode("utf-8"))
    except RecursionError:
        return sys.maxsize  # nested deeper than any identity notification
    except (TypeError, ValueError):
        return len(str(payload).encode("utf-8", "replace"))
