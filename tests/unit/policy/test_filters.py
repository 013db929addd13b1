"""Filters: value, age, tag, metadata and their composition."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import pytest

from reaper.policy import PolicyEvaluationError
from reaper.policy.errors import MissingField
from reaper.policy.filters import build_filter

from .conftest import context, resource


def holds(spec: dict[str, Any], strict: bool = False, **attributes: Any) -> bool:
    return build_filter(spec).match(
        resource("compute.server", **attributes), context(), strict=strict
    )


class TestValueFilter:
    def test_op_defaults_to_eq(self) -> None:
        assert holds({"key": "status", "value": "ACTIVE"}, status="ACTIVE")
        assert not holds({"key": "status", "value": "ACTIVE"}, status="ERROR")

    def test_dotted_keys_walk_mappings_and_lists(self) -> None:
        attrs = {"flavor": {"name": "m1.tiny"}, "addresses": {"net": [{"addr": "10.0.0.5"}]}}
        assert holds({"key": "flavor.name", "value": "m1.tiny"}, **attrs)
        assert holds({"key": "addresses.net.0.addr", "op": "glob", "value": "10.*"}, **attrs)
        assert not holds({"key": "addresses.net.1.addr", "op": "present"}, **attrs)

    def test_a_missing_key_never_raises_in_filters(self) -> None:
        assert not holds({"key": "nope", "value": 1})
        assert not holds({"key": "nope", "op": "ne", "value": 1})
        assert not holds({"key": "flavor.name", "value": "x"}, flavor="not a mapping")
        assert holds({"key": "nope", "op": "absent"})

    def test_a_missing_top_level_field_raises_in_protect_rules(self) -> None:
        with pytest.raises(MissingField):
            holds({"key": "is_shared", "value": True}, strict=True)

    def test_a_missing_nested_key_is_just_absent_even_in_protect_rules(self) -> None:
        assert not holds({"key": "metadata.keep", "value": "yes"}, strict=True, metadata={})

    def test_common_fields_fall_back_to_the_normalised_resource(self) -> None:
        """An image has ``owner``, not ``project_id``; reaper normalised it onto the Resource."""
        server = resource("compute.server", status="ACTIVE")
        attrs = dict(server.attributes)
        attrs.pop("status")
        server = replace(server, attributes=attrs)
        assert build_filter({"key": "status", "value": "ACTIVE"}).match(server, context())
        assert build_filter({"key": "project_id", "value": "p-deleted"}).match(server, context())

    def test_describe_reads_like_the_policy(self) -> None:
        assert build_filter({"key": "is_shared", "value": True}).describe() == "is_shared eq true"
        assert (
            build_filter(
                {"key": "visibility", "op": "in", "value": ["public", "shared"]}
            ).describe()
            == "visibility in [public, shared]"
        )
        assert build_filter({"key": "x", "op": "present"}).describe() == "x present"


class TestAgeFilter:
    """``now`` is 2025-06-01T12:00Z in every test."""

    def test_older_than(self) -> None:
        spec = {"age": {"value": "1d"}}
        assert holds(spec, created_at="2025-05-30T12:00:00Z")
        assert not holds(spec, created_at="2025-06-01T11:00:00Z")

    def test_ops_and_other_keys(self) -> None:
        spec = {"age": {"key": "updated_at", "op": "lt", "value": "2h"}}
        assert holds(spec, updated_at="2025-06-01T11:00:00+00:00")
        assert not holds(spec, updated_at="2025-06-01T09:00:00+00:00")

    def test_naive_timestamps_are_utc(self) -> None:
        """Cinder's created_at has no zone: it is UTC."""
        assert holds({"age": {"op": "ge", "value": "12h"}}, created_at="2025-06-01T00:00:00.000000")

    def test_missing_or_null_timestamps_do_not_match_filters(self) -> None:
        assert not holds({"age": {"value": "1d"}})
        assert not holds({"age": {"value": "1d"}}, created_at=None)

    def test_but_make_protect_rules_fail_closed(self) -> None:
        with pytest.raises(PolicyEvaluationError):
            holds({"age": {"value": "1d"}}, strict=True, created_at=None)

    def test_garbage_timestamps_raise(self) -> None:
        with pytest.raises(PolicyEvaluationError, match="not an ISO 8601"):
            holds({"age": {"value": "1d"}}, created_at="yesterday")

    def test_describe(self) -> None:
        assert build_filter({"age": {"value": "7d"}}).describe() == "created_at older than 7d"


class TestTagFilter:
    def test_finds_tags_lists(self) -> None:
        assert holds({"tag": "reaper:keep"}, tags=["web", "reaper:keep"])
        assert not holds({"tag": "reaper:keep"}, tags=["web"])

    def test_finds_metadata_and_properties_keys(self) -> None:
        assert holds({"tag": "reaper:keep"}, metadata={"reaper:keep": "true"})
        assert holds({"tag": "reaper:keep"}, properties={"reaper:keep": ""})
        assert not holds({"tag": "reaper:keep"}, metadata={"keep": "reaper:keep"})

    def test_null_tags_are_no_tags(self) -> None:
        assert not holds({"tag": "reaper:keep"}, strict=True, tags=None, metadata=None)

    def test_no_tag_field_at_all_fails_closed_in_protect_rules(self) -> None:
        assert not holds({"tag": "reaper:keep"})
        with pytest.raises(MissingField):
            holds({"tag": "reaper:keep"}, strict=True)

    def test_malformed_tags_raise_unless_another_field_has_the_tag(self) -> None:
        with pytest.raises(PolicyEvaluationError):
            holds({"tag": "reaper:keep"}, tags="reaper:keep")
        assert holds({"tag": "reaper:keep"}, tags="oops", metadata={"reaper:keep": "1"})


class TestMetadataFilter:
    def test_compares_one_literal_key(self) -> None:
        spec = {"metadata": {"key": "com.example.team", "value": "ops"}}
        assert holds(spec, metadata={"com.example.team": "ops"})
        assert not holds(spec, metadata={"com.example.team": "dev"})
        assert holds(spec, properties={"com.example.team": "ops"})

    def test_present_and_absent(self) -> None:
        assert holds({"metadata": {"key": "k", "op": "present"}}, metadata={"k": "v"})
        assert holds({"metadata": {"key": "k", "op": "absent"}}, metadata={})

    def test_without_metadata_fields_protect_rules_fail_closed(self) -> None:
        with pytest.raises(MissingField):
            holds({"metadata": {"key": "k", "op": "present"}}, strict=True)

    def test_describe(self) -> None:
        spec = {"metadata": {"key": "team", "op": "ne", "value": "ops"}}
        assert build_filter(spec).describe() == "metadata[team] ne ops"


class TestComposition:
    ACTIVE: ClassVar[dict[str, Any]] = {"key": "status", "value": "ACTIVE"}
    OLD: ClassVar[dict[str, Any]] = {"age": {"value": "1d"}}
    #: Raises on a string size.
    BROKEN: ClassVar[dict[str, Any]] = {"key": "size", "op": "gt", "value": 10}

    def test_and(self) -> None:
        spec = {"and": [self.ACTIVE, self.OLD]}
        assert holds(spec, status="ACTIVE", created_at="2025-01-01T00:00:00Z")
        assert not holds(spec, status="ACTIVE", created_at="2025-06-01T11:59:00Z")

    def test_or(self) -> None:
        spec = {"or": [self.ACTIVE, self.OLD]}
        assert holds(spec, status="ERROR", created_at="2025-01-01T00:00:00Z")
        assert not holds(spec, status="ERROR", created_at="2025-06-01T11:59:00Z")

    def test_not_of_one_filter_and_of_a_list(self) -> None:
        assert holds({"not": self.ACTIVE}, status="ERROR")
        old = "2025-01-01"
        assert not holds({"not": [self.ACTIVE, self.OLD]}, status="ACTIVE", created_at=old)
        assert holds(
            {"not": [self.ACTIVE, self.OLD]}, status="ACTIVE", created_at="2025-06-01T12:00"
        )

    def test_not_of_a_missing_field_holds(self) -> None:
        assert holds({"not": {"key": "device_owner", "op": "glob", "value": "network:*"}})

    def test_errors_only_matter_when_the_answer_is_open(self) -> None:
        """Three-valued logic: a false child settles ``and``, a true child settles ``or``."""
        assert not holds({"and": [self.BROKEN, self.ACTIVE]}, size="big", status="ERROR")
        assert holds({"or": [self.BROKEN, self.ACTIVE]}, size="big", status="ACTIVE")
        with pytest.raises(PolicyEvaluationError):
            holds({"and": [self.BROKEN, self.ACTIVE]}, size="big", status="ACTIVE")
        with pytest.raises(PolicyEvaluationError):
            holds({"or": [self.BROKEN, self.ACTIVE]}, size="big", status="ERROR")
        with pytest.raises(PolicyEvaluationError):
            holds({"not": self.BROKEN}, size="big")

    def test_describe_nests(self) -> None:
        spec = {"or": [self.ACTIVE, {"not": self.OLD}]}
        assert build_filter(spec).describe() == "(status eq ACTIVE or not created_at older than 1d)"
