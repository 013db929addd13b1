"""The domain model: immutable values, and plans that cannot be edited unnoticed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from reaper import canonical
from reaper.model import (
    ActionSpec,
    Decision,
    Edge,
    IdentityKind,
    IdentityRef,
    Plan,
    PlanIntegrityError,
    Resource,
    ResourceRef,
    Step,
    Verdict,
)


def _plan() -> Plan:
    server = Resource(
        type="compute.server",
        id="s1",
        name="web",
        project_id="p1",
        status="ACTIVE",
        attributes={"flavor": {"name": "tiny"}, "tags": ["a"]},
    )
    port = Resource(
        type="network.port",
        id="pt1",
        project_id="p1",
        edges=(Edge("device", server.ref),),
    )
    return Plan(
        identity=IdentityRef(IdentityKind.PROJECT, "p1"),
        created_at=dt.datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=dt.timezone.utc),
        resources=(server, port),
        decisions=(
            Decision(
                server.ref,
                Verdict.ACT,
                (ActionSpec("delete", {}, after=dt.timedelta(days=7)),),
                policy="default",
                rule="r1",
                reason="owner deleted",
            ),
        ),
        steps=(
            Step("delete:compute.server:s1", "delete", server.ref, after=dt.timedelta(hours=1)),
            Step(
                "delete:network.port:pt1",
                "delete",
                port.ref,
                depends_on=("delete:compute.server:s1",),
            ),
        ),
    )


def test_values_are_immutable() -> None:
    ref = ResourceRef("compute.server", "s1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.id = "other"  # type: ignore[misc]


def test_service_comes_from_the_type() -> None:
    assert ResourceRef("block_storage.volume", "v").service == "block_storage"


def test_plan_round_trips_through_json_with_the_same_hash() -> None:
    plan = _plan()
    data = json.loads(json.dumps(plan.to_dict()))
    again = Plan.from_dict(data)
    assert again.content_hash == plan.content_hash
    assert again.steps == plan.steps
    assert again.resources[1].edges == plan.resources[1].edges
    assert again.decisions[0].actions[0].after == dt.timedelta(days=7)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["steps"].pop(),
        lambda d: d["steps"][0].update(action="quarantine"),
        lambda d: d["resources"][0].update(id="s2"),
        lambda d: d["identity"].update(id="p2"),
        lambda d: d.update(held=["x"]),
    ],
)
def test_an_edited_plan_is_refused(edit) -> None:
    data = json.loads(json.dumps(_plan().to_dict()))
    edit(data)
    with pytest.raises(PlanIntegrityError, match="edited after it was shown"):
        Plan.from_dict(data)


def test_unknown_fields_are_refused_not_ignored() -> None:
    data = _plan().to_dict()
    data["extra_steps"] = []
    with pytest.raises(PlanIntegrityError, match="unknown plan fields"):
        Plan.from_dict(data)


def test_canonical_json_is_independent_of_key_order_and_whitespace() -> None:
    assert canonical.dumps({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'
    assert canonical.digest({"a": 1, "b": 2}) == canonical.digest({"b": 2, "a": 1})
    assert canonical.dumps({"name": "é"}) == '{"name":"é"}'.encode()


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        canonical.dumps({"x": float("nan")})
