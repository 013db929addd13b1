"""Reading policy files into a :class:`PolicySet`, or every reason they are wrong.

Paths are files or directories (their ``*.yaml`` and ``*.yml`` files, in
name order, not recursive); policies are evaluated in the order the files
are given, then the order they are written. A policy name is unique within
a file; a later file's policy of an earlier file's name overrides it, in
the earlier one's place (so a directory holding the shipped files plus an
operator's edited copy loads, and :attr:`PolicySet.overrides` says which
file won). Each file goes through:

1. safe YAML with positions and no duplicate keys (``yamlsource.py``);
2. the JSON schema assembled from the registered filters and actions
   (``schema.py``);
3. the semantic checks against the registered resource types and actions
   (``semantics.py``), for each policy that passed the schema.

All problems of all files are collected and raised together as one
:class:`PolicyError`, so ``reaper policy validate`` shows everything at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reaper import canonical
from reaper.actions.base import Action
from reaper.inventory.base import ResourceType
from reaper.policy import schema, yamlsource
from reaper.policy.errors import PolicyError, PolicyIssue
from reaper.policy.policies import Override, Policy, PolicySet
from reaper.policy.semantics import Checker

SUFFIXES = (".yaml", ".yml")
#: The policy file reaper uses when ``[DEFAULT] policy_paths`` is empty.
DEFAULT_POLICY = "default.yaml"
#: Where pbr's ``data_files`` installs ``policies/`` (see setup.cfg).
INSTALLED_DIR = Path("share", "reaper", "policies")


def default_policy_paths() -> list[str]:
    """The shipped ``default.yaml``: installed under ``sys.prefix``, else this checkout's.

    Only the default file, not the whole directory: the other shipped files
    (``forensic.yaml``) are alternatives to it, chosen with ``policy_paths``.
    """
    for directory in (
        Path(sys.prefix) / INSTALLED_DIR,
        Path(__file__).resolve().parents[2] / "policies",
    ):
        candidate = directory / DEFAULT_POLICY
        if candidate.is_file():
            return [str(candidate)]
    return []


def configured_policy_paths(conf: Any) -> list[str]:
    """``[DEFAULT] policy_paths``, or the shipped default when it is empty."""
    return list(conf.policy_paths or ()) or default_policy_paths()


def policy_files(paths: Iterable[str]) -> tuple[list[str], list[PolicyIssue]]:
    """The files ``paths`` name, in load order, and the paths that name none."""
    files: list[str] = []
    problems: list[PolicyIssue] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                os.path.join(path, n)
                for n in os.listdir(path)
                if n.endswith(SUFFIXES) and os.path.isfile(os.path.join(path, n))
            )
            if not found:
                problems.append(PolicyIssue(path, 0, 0, "directory has no *.yaml policy files"))
        elif os.path.isfile(path):
            found = [path]
        else:
            problems.append(PolicyIssue(path, 0, 0, "no such file or directory"))
            found = []
        for file in found:
            real = os.path.realpath(file)
            if real not in seen:
                seen.add(real)
                files.append(file)
    return files, problems


def load_policies(
    paths: Iterable[str],
    types: Mapping[str, ResourceType] | None = None,
    actions: Mapping[str, type[Action]] | None = None,
) -> PolicySet:
    """Load, validate and compile ``paths``; raises :class:`PolicyError` listing every problem.

    ``types`` and ``actions`` default to what the ``reaper.inventory`` and
    ``reaper.actions`` entry points register.
    """
    if types is None:
        from reaper.inventory.registry import resource_types

        types = resource_types()
    if actions is None:
        from reaper.actions.registry import action_classes

        actions = action_classes()
    paths = list(paths)
    files, problems = policy_files(paths)
    if not paths:
        problems.append(PolicyIssue("<policy_paths>", 0, 0, "no policy files to load"))
    check = schema.validator(schema.document_schema(actions))
    loaded = _Loaded(types, actions)
    for file in files:
        loaded.file(file, check)
    errors = problems + loaded.errors
    if errors:
        raise PolicyError(_ordered(errors, [*paths, *files]))
    return PolicySet(
        policies=tuple(loaded.policies),
        types=types,
        digest=canonical.digest({"policy_files": loaded.documents}),
        files=tuple(files),
        overrides=tuple(loaded.overrides),
    )


class _Loaded:
    """What has been loaded so far: policies, their documents, and errors."""

    def __init__(
        self, types: Mapping[str, ResourceType], actions: Mapping[str, type[Action]]
    ) -> None:
        self.types = types
        self.actions = actions
        self.policies: list[Policy] = []
        self.documents: list[Any] = []
        self.errors: list[PolicyIssue] = []
        #: Each name's policy so far: its ``file:line``, its file, its index in ``policies``.
        self.names: dict[str, tuple[str, str, int | None]] = {}
        self.overrides: list[Override] = []

    def file(self, file: str, check: Any) -> None:
        try:
            with open(file, encoding="utf-8") as stream:
                text = stream.read()
        except (OSError, UnicodeDecodeError) as exc:
            self.errors.append(PolicyIssue(file, 0, 0, f"cannot read: {exc}"))
            return
        try:
            document = yamlsource.load(text, file)
        except yamlsource.YamlSyntaxError as exc:
            self.errors.append(exc.issue)
            return
        if document is None:
            self.errors.append(PolicyIssue(file, 0, 0, "empty policy file"))
            return
        invalid: dict[int, set[tuple[str | int, ...]]] = {}
        structural = False
        for path, issue in schema.issues(check, document, file):
            self.errors.append(issue)
            if len(path) >= 2 and path[0] == "policies" and isinstance(path[1], int):
                invalid.setdefault(path[1], set()).add(tuple(path[2:4]))
            else:
                structural = True
        if structural and not (
            isinstance(document, dict) and isinstance(document.get("policies"), list)
        ):
            return
        self.documents.append(yamlsource.plain(document))
        defaults = document.get("defaults")
        limit = None
        if isinstance(defaults, dict) and isinstance(defaults.get("limits"), dict):
            value = defaults["limits"].get("max_resources")
            limit = value if isinstance(value, int) and not isinstance(value, bool) else None

        def report(path: tuple[str | int, ...], message: str, key: str | None = None) -> None:
            line, column = yamlsource.locate(document, path, key=key)
            where = schema.dotted((*path, key) if key else path)
            self.errors.append(PolicyIssue(file, line, column, f"{where}: {message}"))

        checker = Checker(self.types, self.actions, report)
        for index, data in enumerate(document["policies"]):
            path: tuple[str | int, ...] = ("policies", index)
            line, _ = yamlsource.locate(document, path)
            name = data.get("name") if isinstance(data, dict) else None
            earlier = self.names.get(name) if isinstance(name, str) else None
            if earlier is not None and earlier[1] == file:
                report((*path, "name"), f"policy name {name!r} is already used at {earlier[0]}")
            if not isinstance(data, dict):
                continue
            bad = frozenset(invalid.get(index, ()))
            policy = checker.policy(data, path, file, line, limit, invalid=bad)
            if not isinstance(name, str) or (earlier is not None and earlier[1] == file):
                if policy is not None:
                    self.policies.append(policy)
                continue
            slot = earlier[2] if earlier is not None else None
            if earlier is not None:
                self.overrides.append(Override(name, f"{file}:{line}", earlier[0]))
            if policy is not None and slot is not None:
                self.policies[slot] = policy
            elif policy is not None:
                slot = len(self.policies)
                self.policies.append(policy)
            self.names[name] = (f"{file}:{line}", file, slot)


def _ordered(errors: list[PolicyIssue], order: list[str]) -> list[PolicyIssue]:
    """Errors in file order (as given), then by position; duplicates dropped."""
    rank = {name: i for i, name in reversed(list(enumerate(order)))}
    unique = dict.fromkeys(errors)
    return sorted(unique, key=lambda e: (rank.get(e.file, len(rank)), e.line, e.column))
