"""Errors a policy file can have, each pinned to a file, line and column.

An operator fixing a policy at 3 a.m. needs ``default.yaml:14:9: ...``, not a
traceback, so every problem the loader finds (YAML syntax, schema, meaning)
becomes one :class:`PolicyIssue`, and the loader reports all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class PolicyIssue:
    """One problem in one policy file. Lines and columns count from 1; 0 means the whole file."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if not self.line:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PolicyError(ValueError):
    """Policies that cannot be loaded; ``errors`` says every reason, in file order."""

    def __init__(self, errors: Iterable[PolicyIssue]) -> None:
        self.errors: list[PolicyIssue] = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors) or "invalid policies")


class PolicyEvaluationError(Exception):
    """A filter could not be evaluated on a resource (a type mismatch, a bad timestamp).

    Protect rules treat it as a match and filters as a refusal to act: either
    way nothing is touched because of a rule that could not be checked.
    """


class MissingField(PolicyEvaluationError):
    """A protect rule tested a field the resource does not carry at all."""
