"""A real store (SQLite in a temporary file, migrated once per session) and the road's fakes."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from reaper.audit.record import Actor
from reaper.audit.trail import AuditTrail
from reaper.policy import PolicySet, load_policies
from reaper.store import Store

from .fakes import POLICY, FakeCloud


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty store at the current schema, copied for each test (migrating costs more)."""
    path = tmp_path_factory.mktemp("store") / "template.sqlite"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def store(migrated: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "reaper.sqlite"
    shutil.copyfile(migrated, path)
    with Store.open(f"sqlite:///{path}", migrate_schema=False) as opened:
        yield opened


@pytest.fixture
def trail(store: Store) -> AuditTrail:
    return AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("test"))


@pytest.fixture
def policies(tmp_path: Path) -> PolicySet:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(POLICY).lstrip(), encoding="utf-8")
    return load_policies([str(path)])


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()
