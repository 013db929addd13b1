"""Helpers for the policy specifications: write a policy, build resources, judge them."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reaper.model import IdentityKind, IdentityRef, Resource
from reaper.policy import EvaluationContext, PolicyError, PolicySet, load_policies

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
PROJECT = IdentityRef(IdentityKind.PROJECT, "p-deleted")
USER = IdentityRef(IdentityKind.USER, "u-deleted")


def resource(rtype: str, rid: str = "r1", **attributes: Any) -> Resource:
    """A resource as the inventory hands it over: SDK attributes plus reaper_relation."""
    attributes.setdefault("reaper_relation", "owner")
    return Resource(
        type=rtype,
        id=rid,
        name=attributes.get("name"),
        project_id=attributes.get("project_id", PROJECT.id),
        user_id=attributes.get("user_id"),
        status=attributes.get("status"),
        attributes=attributes,
    )


def context(
    trigger: str = "identity.project.deleted",
    identity: IdentityRef = PROJECT,
    **kwargs: Any,
) -> EvaluationContext:
    return EvaluationContext(trigger=trigger, identity=identity, now=NOW, **kwargs)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., str]:
    """``write(yaml_text, name="p.yaml")``: a policy file, dedented; returns its path."""

    def _write(text: str, name: str = "p.yaml") -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return str(path)

    return _write


@pytest.fixture
def policies(write: Callable[..., str]) -> Callable[[str], PolicySet]:
    """``policies(yaml_text)``: the loaded set, against the registered types and actions."""

    def _load(text: str) -> PolicySet:
        return load_policies([write(text)])

    return _load


@pytest.fixture
def errors(write: Callable[..., str]) -> Callable[[str], list[str]]:
    """``errors(yaml_text)``: every error as ``line:column: message`` (file name dropped)."""

    def _errors(text: str) -> list[str]:
        path = write(text)
        with pytest.raises(PolicyError) as exc:
            load_policies([path])
        assert all(e.file == path for e in exc.value.errors)
        return [f"{e.line}:{e.column}: {e.message}" for e in exc.value.errors]

    return _errors
