"""Filters: the conditions of ``protect`` rules and ``filters``, one class each.

Filters are registered with :func:`register` under the key that identifies
them in a policy (``key`` for a value filter, ``age``, ``tag``, ``metadata``,
``and``, ``or``, ``not``), and each declares the JSON schema of its mapping.
The policy schema is assembled from these declarations (``schema.py``), so
adding a filter is one class in one of this package's modules and nothing
else: :mod:`~reaper.policy.filters.registry` (the base class and the
registry), :mod:`~reaper.policy.filters.values` (``key``, ``age``, ``tag``,
``metadata``) and :mod:`~reaper.policy.filters.boolean` (``and``, ``or``,
``not``).

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

# isort: off
# Registration is at import, and build_filter and the policy schema's "a filter is a mapping
# with one of ..." list the keywords in registration order: the value filters, then and/or/not.
from reaper.policy.filters.registry import (
    DURATION_REF,
    FILTER_REF,
    FILTERS,
    Filter,
    build_all,
    build_filter,
    describe_all,
    register,
    show,
)
from reaper.policy.filters.values import (
    AgeFilter,
    MetadataFilter,
    TagFilter,
    ValueFilter,
    parse_timestamp,
)
from reaper.policy.filters.boolean import AndFilter, NotFilter, OrFilter

# isort: on

__all__ = [
    "DURATION_REF",
    "FILTERS",
    "FILTER_REF",
    "AgeFilter",
    "AndFilter",
    "Filter",
    "MetadataFilter",
    "NotFilter",
    "OrFilter",
    "TagFilter",
    "ValueFilter",
    "build_all",
    "build_filter",
    "describe_all",
    "parse_timestamp",
    "register",
    "show",
]
