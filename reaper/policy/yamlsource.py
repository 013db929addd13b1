"""Safe YAML that remembers where every value came from.

Policy files are parsed with a :class:`yaml.SafeLoader` subclass that

* builds only plain data (no Python objects, whatever the tags say);
* records the line and column of every mapping key, mapping value and list
  item, so schema and semantic errors found later point into the file;
* rejects duplicate keys, which plain YAML silently resolves to the last one
  (a second ``protect:`` would quietly replace the first);
* rejects aliases (``*name``): a policy should read as it acts, and alias
  expansion is how a small file becomes a huge document;
* resolves booleans the YAML 1.2 way (only ``true``/``false``), so
  ``value: no`` or ``value: on`` stay the strings they look like, and keeps
  dates as strings (they are compared with the SDK's ISO timestamps).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from reaper.policy.errors import PolicyIssue

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"

Path = Sequence[str | int]


class Located:
    """Where a node starts: 0-based line and column, as PyYAML marks count."""

    __slots__ = ("column", "line")

    def __init__(self, mark: yaml.Mark) -> None:
        self.line = mark.line
        self.column = mark.column


class LineDict(dict[str, Any]):
    """A mapping with the position of itself, each key and each value."""

    def __init__(self, at: Located) -> None:
        super().__init__()
        self.at = at
        self.key_at: dict[str, Located] = {}
        self.value_at: dict[str, Located] = {}


class LineList(list[Any]):
    """A sequence with the position of itself and of each item."""

    def __init__(self, at: Located) -> None:
        super().__init__()
        self.at = at
        self.item_at: list[Located] = []


class PolicyLoader(yaml.SafeLoader):
    """The only loader policy files are read with; see the module docstring."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None,
                None,
                f"aliases (*{event.anchor}) are not allowed in policy files: "
                "write the rule out where it applies",
                event.start_mark,
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]

    def construct_located_mapping(self, node: yaml.MappingNode) -> LineDict:
        result = LineDict(Located(node.start_mark))
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise ConstructorError(
                    None,
                    None,
                    f"mapping keys must be strings, not {_kind(key)} {key!r}",
                    key_node.start_mark,
                )
            if key in result:
                first = result.key_at[key]
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first defined on line {first.line + 1})",
                    key_node.start_mark,
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_at[key] = Located(key_node.start_mark)
            result.value_at[key] = Located(value_node.start_mark)
        return result

    def construct_located_sequence(self, node: yaml.SequenceNode) -> LineList:
        result = LineList(Located(node.start_mark))
        for item in node.value:
            result.append(self.construct_object(item, deep=True))
            result.item_at.append(Located(item.start_mark))
        return result


PolicyLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
PolicyLoader.add_constructor("tag:yaml.org,2002:map", PolicyLoader.construct_located_mapping)
PolicyLoader.add_constructor("tag:yaml.org,2002:seq", PolicyLoader.construct_located_sequence)


class YamlSyntaxError(Exception):
    def __init__(self, issue: PolicyIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


def load(text: str, file: str) -> Any:
    """The single document in ``text``; raises :class:`YamlSyntaxError` with its position."""
    try:
        return yaml.load(text, Loader=PolicyLoader)  # noqa: S506 - PolicyLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise YamlSyntaxError(PolicyIssue(file, line, column, problem)) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(PolicyIssue(file, 1, 1, str(exc))) from exc


def locate(root: Any, path: Path, *, key: Hashable | None = None) -> tuple[int, int]:
    """1-based line and column of the value at ``path`` (or of its key ``key``).

    Walks as far down ``path`` as the tree allows, so a path into a missing
    or mistyped part still lands on the closest enclosing line.
    """
    at: Located | None = getattr(root, "at", None)
    node = root
    for part in path:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            at, node = node.value_at[part], node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            at, node = node.item_at[part], node[part]
        else:
            break
    if key is not None and isinstance(node, LineDict) and key in node.key_at:
        at = node.key_at[key]  # type: ignore[index]
    if at is None:
        return 1, 1
    return at.line + 1, at.column + 1


def plain(value: Any) -> Any:
    """The same data without positions: plain dicts and lists (for params and digests)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _kind(value: Any) -> str:
    return type(value).__name__
