"""A plan of nothing but the quotas any id has, for an id nobody ever saw, is a typo."""

from __future__ import annotations

import pytest

from reaper.cli.plan import unheard_of
from reaper.model import IdentityKind, IdentityRef, Plan, Resource
from reaper.store import Store
from reaper.store.directory import Known
from tests.unit.test_executor import T0

PROJECT = IdentityRef(IdentityKind.PROJECT, "0123456789abcdef0123456789abcdef")
QUOTAS = (
    Resource(type="compute.quota", id=PROJECT.id),
    Resource(type="network.quota", id=PROJECT.id),
    Resource(type="block_storage.quota", id=PROJECT.id),
)


@pytest.fixture
def store(tmp_path) -> Store:
    with Store.open(f"sqlite:///{tmp_path / 'reaper.sqlite'}") as opened:
        yield opened


def plan_of(*resources: Resource) -> Plan:
    return Plan(identity=PROJECT, created_at=T0, resources=resources, steps=())


def test_only_quotas_for_an_id_nobody_saw_is_an_error_that_says_check_the_id(store) -> None:
    said = unheard_of(store, plan_of(*QUOTAS))
    assert said is not None
    assert said.startswith(f"nothing found for project {PROJECT.id}; Keystone has no record")
    assert "check the id" in said and "--allow-any-id" in said
    assert unheard_of(store, plan_of()) == said  # nothing at all: the same


def test_allow_any_id_plans_for_it_anyway(store) -> None:
    assert unheard_of(store, plan_of(*QUOTAS), allow_any_id=True) is None


def test_anything_owned_or_an_identity_seen_alive_is_a_real_plan(store) -> None:
    server = Resource(type="compute.server", id="s1", project_id=PROJECT.id)
    assert unheard_of(store, plan_of(*QUOTAS, server)) is None
    store.directory.record([Known(PROJECT, "default")])
    assert unheard_of(store, plan_of(*QUOTAS)) is None


def test_an_incomplete_plan_proves_nothing_missing_and_says_so_itself(store) -> None:
    plan = Plan(
        identity=PROJECT,
        created_at=T0,
        resources=QUOTAS,
        steps=(),
        incomplete=("compute: HTTP 503",),
    )
    assert unheard_of(store, plan) is None
