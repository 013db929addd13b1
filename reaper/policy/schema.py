"""The JSON schema of a policy file, assembled from what is registered.

Nothing about filters or actions is written here: each filter class
(``filters/``) and each action (``reaper.actions``) declares the schema of
its own mapping, and :func:`document_schema` stitches them together with
``if``/``then`` on the identifying key (``key``, ``age``, ``tag``... for
filters, ``type`` for actions). A plugin that registers a new action is
validated the moment it is installed, like Cloud Custodian's resources.

Schema nodes may carry two annotations the validator ignores and
:func:`render` uses: ``x-name`` (what the node is called in messages) and
``x-errors`` (a message per failing keyword), so an operator reads
"unknown action 'delet'" instead of a dump of the schema.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema

from reaper.actions.base import Action
from reaper.policy import durations
from reaper.policy.errors import PolicyIssue
from reaper.policy.filters import DURATION_REF, FILTER_REF, FILTERS
from reaper.policy.yamlsource import locate

Schema = dict[str, Any]

#: Keys every action mapping has besides the action's own parameters.
ACTION_KEYS = ("type", "after")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


def document_schema(actions: Mapping[str, type[Action]]) -> Schema:
    """The schema of one policy file, given the registered actions."""
    names = sorted(actions)
    defs: Schema = {
        "duration": {
            "type": "string",
            "pattern": durations.PATTERN,
            "x-errors": {"type": "{instance!r} is not a duration such as 7d, 12h, 30m or 2w"},
        },
        "filter": _filter_dispatch(),
        **{f"filter.{keyword}": cls.schema() for keyword, cls in FILTERS.items()},
        "action": _action_dispatch(names),
        **{f"action.{name}": _action_schema(name, cls) for name, cls in actions.items()},
        "limits": {
            "type": "object",
            "x-name": "limits",
            "properties": {"max_resources": {"type": "integer", "minimum": 0}},
            "additionalProperties": False,
        },
        "policy": _policy_schema(),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "type": "object",
        "x-name": "policy file",
        "x-errors": {"type": "a policy file is a mapping with a 'policies' list"},
        "properties": {
            "version": {"const": 1, "x-errors": {"const": "only version 1 exists"}},
            "defaults": {
                "type": "object",
                "x-name": "defaults",
                "properties": {"limits": {"$ref": "#/$defs/limits"}},
                "additionalProperties": False,
            },
            "policies": {"type": "array", "items": {"$ref": "#/$defs/policy"}},
        },
        "required": ["policies"],
        "additionalProperties": False,
    }


def _filter_dispatch() -> Schema:
    keywords = list(FILTERS)
    return {
        "type": "object",
        "x-name": "filter",
        "x-errors": {
            "type": "a filter is a mapping such as {{key: status, value: ACTIVE}}",
            "anyOf": "unknown filter {keys}: a filter is a mapping with one of "
            + ", ".join(keywords),
        },
        "anyOf": [{"required": [k]} for k in keywords],
        "allOf": [
            {"if": {"required": [k]}, "then": {"$ref": f"#/$defs/filter.{k}"}} for k in keywords
        ],
    }


def _action_dispatch(names: list[str]) -> Schema:
    unknown = {"enum": "unknown action {instance!r} (known: " + ", ".join(names) + ")"}
    return {
        "type": ["string", "object"],
        "x-name": "action",
        "x-errors": {"type": "an action is a name (delete) or a mapping ({{type: delete}})"},
        "if": {"type": "string"},
        "then": {"enum": names, "x-errors": unknown},
        "else": {
            "required": ["type"],
            "x-name": "action",
            "properties": {"type": {"enum": names, "x-errors": unknown}},
            "allOf": [
                {
                    "if": {"required": ["type"], "properties": {"type": {"const": name}}},
                    "then": {"$ref": f"#/$defs/action.{name}"},
                }
                for name in names
            ],
        },
    }


def _action_schema(name: str, action: type[Action]) -> Schema:
    """The action's own parameter schema, plus ``type`` and the grace period ``after``."""
    schema: Schema = copy.deepcopy(dict(action.schema))
    if schema.get("type", "object") != "object":
        raise ValueError(f"action {name}: its schema must describe an object")
    properties = schema.setdefault("properties", {})
    clash = set(ACTION_KEYS) & set(properties)
    if clash:
        raise ValueError(f"action {name}: parameters {sorted(clash)} are reserved")
    properties["type"] = {"const": name}
    properties["after"] = DURATION_REF
    schema["type"] = "object"
    schema["x-name"] = f"action {name}"
    return schema


def _policy_schema() -> Schema:
    strings = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
    return {
        "type": "object",
        "x-name": "policy",
        "properties": {
            "name": {
                "type": "string",
                "pattern": NAME_PATTERN,
                "x-errors": {
                    "pattern": "policy name {instance!r} must start with a letter or digit "
                    "and use only letters, digits and _ . : -"
                },
            },
            "description": {"type": "string"},
            "triggers": strings,
            "resources": strings,
            "protect": {"type": "array", "items": FILTER_REF},
            "filters": {"type": "array", "items": FILTER_REF},
            "actions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/action"}},
            "limits": {"$ref": "#/$defs/limits"},
        },
        "required": ["name", "triggers", "resources"],
        "additionalProperties": False,
    }


def validator(schema: Schema) -> jsonschema.protocols.Validator:
    """A validator for ``schema`` (which the unit tests check against the metaschema:
    doing it on every load would cost a second of CLI start-up)."""
    cls = jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def issues(
    check: jsonschema.protocols.Validator, document: Any, file: str
) -> Iterator[tuple[tuple[str | int, ...], PolicyIssue]]:
    """Every schema violation in ``document``, with its path and its position."""
    for error in check.iter_errors(document):
        path = tuple(error.absolute_path)
        message, key = render(error)
        line, column = locate(document, path, key=key)
        where = dotted(path)
        yield path, PolicyIssue(file, line, column, f"{where}: {message}" if where else message)


def dotted(path: tuple[str | int, ...]) -> str:
    """``('policies', 0, 'actions', 1)`` -> ``policies[0].actions[1]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TYPE_NAMES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _found(instance: Any) -> str:
    for kind, name in _TYPE_NAMES.items():
        if isinstance(instance, kind) and (kind is not int or not isinstance(instance, bool)):
            return name
    return type(instance).__name__


def render(error: jsonschema.ValidationError) -> tuple[str, str | None]:
    """A readable message for ``error``, and the mapping key it is about (if any)."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    name = schema.get("x-name", "value")
    custom = schema.get("x-errors", {}).get(error.validator)
    if custom:
        keys = ", ".join(map(str, instance)) if isinstance(instance, Mapping) else repr(instance)
        op = instance.get("op") if isinstance(instance, Mapping) else None
        return custom.format(instance=instance, keys=keys or "{}", op=op), None
    kind = error.validator
    if kind == "additionalProperties" and isinstance(instance, Mapping):
        known = set(schema.get("properties", {}))
        extra = [k for k in instance if k not in known]
        expected = ", ".join(sorted(known))
        return (
            f"unknown field {', '.join(map(repr, extra))} in {name} (expected: {expected})",
            extra[0] if extra else None,
        )
    if kind == "required" and isinstance(instance, Mapping):
        missing = [k for k in error.validator_value if k not in instance]
        return f"{name} needs {', '.join(map(repr, missing))}", None
    if kind == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        words = " or ".join(_TYPE_NAMES.get(_PY.get(w, object), w) for w in wanted)
        return f"expected {words}, found {_found(instance)} {instance!r}", None
    if kind == "enum":
        return f"{instance!r} is not one of: {', '.join(map(str, error.validator_value))}", None
    if kind == "pattern" and error.validator_value == durations.PATTERN:
        return f"{instance!r} is not a duration such as 7d, 12h, 30m or 2w", None
    if kind == "format" and error.validator_value == "regex":
        try:
            re.compile(instance)
        except re.error as exc:
            return f"invalid regular expression {instance!r}: {exc}", None
    if kind == "minItems" and error.validator_value == 1:
        return "must not be empty", None
    if kind == "minLength" and error.validator_value == 1:
        return "must not be empty", None
    if kind == "minimum":
        return f"must be at least {error.validator_value}, found {instance!r}", None
    return error.message, None


_PY: dict[str, type] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": float,
    "null": type(None),
}
