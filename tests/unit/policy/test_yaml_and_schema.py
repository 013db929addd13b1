"""The YAML dialect of policy files, and the schema assembled from the registries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import jsonschema
import pytest

from reaper.actions.base import Action
from reaper.actions.registry import action_classes
from reaper.model import Resource
from reaper.policy import yamlsource
from reaper.policy.schema import document_schema


def test_only_true_and_false_are_booleans() -> None:
    data = yamlsource.load("a: [true, False, yes, no, on, off]\n", "f")
    assert data == {"a": [True, False, "yes", "no", "on", "off"]}


def test_dates_stay_strings() -> None:
    assert yamlsource.load("a: 2025-01-01\n", "f") == {"a": "2025-01-01"}


def test_python_tags_are_refused() -> None:
    with pytest.raises(yamlsource.YamlSyntaxError, match="could not determine a constructor"):
        yamlsource.load("a: !!python/object/apply:os.system [id]\n", "f")


def test_one_document_per_file() -> None:
    with pytest.raises(yamlsource.YamlSyntaxError, match="expected a single document"):
        yamlsource.load("a: 1\n---\nb: 2\n", "f")


def test_keys_must_be_strings() -> None:
    with pytest.raises(yamlsource.YamlSyntaxError) as exc:
        yamlsource.load("policies:\n  1: x\n", "f")
    assert str(exc.value) == "f:2:3: mapping keys must be strings, not int 1"


def test_positions_of_keys_values_and_items() -> None:
    data = yamlsource.load("a:\n  - x\n  - {b: 1}\n", "f")
    assert yamlsource.locate(data, ["a", 1, "b"]) == (3, 9)
    assert yamlsource.locate(data, ["a", 1], key="b") == (3, 6)
    assert yamlsource.locate(data, ["a", 5, "zzz"]) == (2, 3)


def test_the_assembled_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(document_schema(action_classes()))


def test_an_actions_own_schema_validates_its_parameters() -> None:
    check = jsonschema.Draft202012Validator(document_schema(action_classes()))

    def with_action(action: object) -> dict[str, Any]:
        policy = {"name": "p", "triggers": ["t"], "resources": ["r"], "actions": [action]}
        return {"policies": [policy]}

    assert check.is_valid(with_action({"type": "tag", "tags": ["x"], "after": "1d"}))
    assert not check.is_valid(with_action({"type": "tag"}))  # tags is required
    assert not check.is_valid(with_action({"type": "tag", "tags": []}))


class Shred(Action):
    name = "shred"
    schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["passes"],
        "properties": {"passes": {"type": "integer", "minimum": 1}},
    }
    resource_types: ClassVar[frozenset[str]] = frozenset({"block_storage.volume"})
    removes = True

    def run(self, client: Any, resource: Resource, params: Mapping[str, Any]) -> Any:
        raise NotImplementedError


def test_a_new_action_is_validated_from_its_own_declaration(write) -> None:
    """Registering an action is all it takes for policies to use (and misuse) it."""
    from reaper.policy import PolicyError, load_policies

    text = """
    policies:
      - name: p
        triggers: [identity.project.deleted]
        resources: [block_storage.volume]
        actions:
          - {type: shred, passes: %s}
    """
    actions = {**action_classes(), "shred": Shred}
    loaded = load_policies([write(text % "3")], actions=actions)
    assert loaded.policies[0].actions[0].params == {"passes": 3}
    with pytest.raises(PolicyError, match="must be at least 1, found 0"):
        load_policies([write(text % "0")], actions=actions)


def test_reserved_parameter_names_are_refused() -> None:
    class Bad(Shred):
        name = "bad"
        schema: ClassVar[Mapping[str, Any]] = {"type": "object", "properties": {"after": {}}}

    with pytest.raises(ValueError, match="reserved"):
        document_schema({"bad": Bad})
