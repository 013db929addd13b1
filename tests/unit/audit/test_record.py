"""Audit records are CADF events with reaper's fields, canonical and secret-free."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from reaper import canonical, sealing
from reaper.audit.columns import index_of
from reaper.audit.record import (
    Actor,
    AuditAction,
    AuditOutcome,
    AuditReason,
    AuditTarget,
    build,
    type_uri,
)
from reaper.model import (
    IdentityKind,
    IdentityRef,
    OutcomeStatus,
    Resource,
    ResourceRef,
    Trigger,
    TriggerSource,
)
from tests.unit.audit.helpers import INITIATOR, OBSERVER, T0

SERVER = Resource(
    type="compute.server",
    id="6f1c1f9e-9d2b-4c38-8d4f-2d2bb1d0b1a7",
    name="web-1",
    project_id="p1",
    user_id="u1",
    status="ACTIVE",
    attributes={"flavor": {"id": "m1.small"}, "adminPass": "hunter2", "key_name": "ops"},
)


def record(**overrides: object) -> dict:
    fields: dict = {
        "action": AuditAction.DELETE,
        "outcome": AuditOutcome.SUCCESS,
        "target": AuditTarget.for_resource(SERVER),
        "initiator": INITIATOR,
        "observer": OBSERVER,
        "event_time": T0,
    }
    fields.update(overrides)
    return json.loads(build(**fields).body(42))


def test_a_record_is_a_cadf_activity_event() -> None:
    body = record()

    assert body["typeURI"] == "http://schemas.dmtf.org/cloud/audit/1.0/event"
    assert body["eventType"] == "activity"
    assert body["eventTime"] == "2024-01-01T00:00:00.000000+0000"
    assert body["action"] == "delete"
    assert body["outcome"] == "success"


def test_the_initiator_is_reapers_service_identity_and_the_observer_its_instance() -> None:
    body = record(
        initiator=Actor.service_user(user_id="0123456789abcdef0123456789abcdef", name="reaper"),
        observer=Actor.instance("controller-2"),
    )

    assert body["initiator"] == {
        "id": "0123456789abcdef0123456789abcdef",
        "name": "reaper",
        "typeURI": "service/security/account/user",
    }
    assert body["observer"]["name"] == "controller-2"
    assert body["observer"]["id"] == Actor.instance("controller-2").id


def test_actors_known_only_by_name_get_a_stable_uuid() -> None:
    assert Actor.instance("a").id == Actor.instance("a").id != Actor.instance("b").id


def test_the_target_is_the_resource_with_its_owner() -> None:
    body = record()

    assert body["target"] == {
        "id": SERVER.id,
        "name": "web-1",
        "typeURI": "compute/machine",
        "project_id": "p1",
        "user_id": "u1",
    }
    assert body["reaper"]["target_type"] == "compute.server"


def test_an_identity_target_uses_keystones_cadf_type() -> None:
    body = record(target=AuditTarget.for_identity(IdentityRef(IdentityKind.PROJECT, "abc")))

    assert body["target"]["typeURI"] == "data/security/project"
    assert body["target"]["project_id"] == "abc"
    assert body["reaper"]["target_type"] == "identity.project"


@pytest.mark.parametrize(
    ("reaper_type", "cadf_type"),
    [
        ("compute.server", "compute/machine"),
        ("block_storage.volume", "storage/volume"),
        ("block_storage.snapshot", "storage/volume/snapshot"),
        ("network.floating_ip", "network/floating_ip"),
        ("identity.user", "data/security/account/user"),
        ("somethingnew.widget", "data/somethingnew/widget"),
    ],
)
def test_reaper_types_map_to_cadf_type_uris(reaper_type: str, cadf_type: str) -> None:
    assert type_uri(reaper_type) == cadf_type


def test_a_policy_reason_names_the_policy_and_the_rule() -> None:
    body = record(reason=AuditReason.policy_match("default", "orphaned-servers", "owner gone"))

    assert body["reason"] == {
        "reasonType": "reaper/policy",
        "reasonCode": "owner gone",
        "policyType": "reaper/policy",
        "policyId": "default:orphaned-servers",
    }


def test_an_error_reason_names_the_exception_without_its_secrets() -> None:
    error = RuntimeError("POST http://admin:s3cret@keystone/v3 failed")
    body = record(outcome=AuditOutcome.FAILURE, reason=AuditReason.error(error))

    assert body["reason"]["reasonType"] == "reaper/error"
    assert body["reason"]["reasonCode"].startswith("RuntimeError: POST http://admin:")
    assert "s3cret" not in body["reason"]["reasonCode"]


def test_reapers_fields_carry_the_tombstone_plan_step_and_trigger() -> None:
    trigger = Trigger(
        TriggerSource.NOTIFICATION,
        event_type="identity.project.deleted",
        message_id="msg-1",
        initiator={"id": "admin-user", "token": "gAAAAABsecretsecretsecretsecret"},
        received_at=T0,
    )
    body = record(
        tombstone_id="tomb-1",
        plan_id="plan-7",
        plan_hash="ab" * 32,
        step_id="delete:compute.server:x",
        trigger=trigger,
    )
    ours = body["reaper"]

    assert ours["seq"] == 42
    assert ours["tombstone_id"] == "tomb-1"
    assert ours["plan"] == {"id": "plan-7", "hash": "ab" * 32}
    assert ours["step_id"] == "delete:compute.server:x"
    assert ours["trigger"]["message_id"] == "msg-1"
    assert ours["trigger"]["event_type"] == "identity.project.deleted"
    assert ours["trigger"]["initiator"] == {"id": "admin-user", "token": "***"}


def test_the_before_image_is_kept_with_secrets_masked() -> None:
    before = record(before=SERVER)["reaper"]["before"]

    assert before["attributes"]["flavor"] == {"id": "m1.small"}
    assert before["attributes"]["key_name"] == "ops"
    # adminPass is a secret by type (reaper.sealing): kept as its hash, for evidence.
    assert before["attributes"]["adminPass"] == sealing.fingerprint("hunter2")
    assert "hunter2" not in json.dumps(before)
    assert before["status"] == "ACTIVE"


def test_a_plain_mapping_is_a_before_image_too() -> None:
    before = record(before={"size": 10, "created": dt.datetime(2023, 5, 1, tzinfo=dt.timezone.utc)})

    assert before["reaper"]["before"] == {"size": 10, "created": "2023-05-01T00:00:00Z"}


def test_fields_without_a_value_are_left_out() -> None:
    assert set(record()["reaper"]) == {"schema", "seq", "target_type"}


def test_the_body_is_canonical_json() -> None:
    text = build(
        action="delete",
        outcome="success",
        target=AuditTarget.for_resource(ResourceRef("network.port", "p")),
        initiator=INITIATOR,
        observer=OBSERVER,
    ).body(1)

    assert canonical.dumps(json.loads(text)).decode() == text


def test_the_body_is_exactly_what_canonical_dumps_makes_of_the_record() -> None:
    draft = build(
        action="delete",
        outcome="success",
        target=AuditTarget.for_resource(SERVER),
        initiator=INITIATOR,
        observer=OBSERVER,
        before={"unicode": "ünïcode ✓", "float": 1.5, "nested": [{"b": 1, "a": None}]},
        extra={"when": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)},
    )
    record = {**draft.cadf, "reaper": {**draft.reaper, "seq": 9}}

    assert draft.body(9) == canonical.dumps(record).decode()


def test_the_index_columns_are_the_bodys_own_fields() -> None:
    draft = build(
        action=AuditAction.DETACH,
        outcome=AuditOutcome.PENDING,
        target=AuditTarget.for_resource(SERVER),
        initiator=INITIATOR,
        observer=OBSERVER,
        tombstone_id="t",
        plan_hash="cd" * 32,
    )

    assert index_of(json.loads(draft.body(3))) == draft.index


@pytest.mark.parametrize("action", ["bogus", "remove"])
def test_an_action_outside_the_cadf_taxonomy_is_refused_before_anything_is_written(
    action: str,
) -> None:
    with pytest.raises(ValueError):
        build(
            action=action,
            outcome="success",
            target=AuditTarget("compute.server", "x"),
            initiator=INITIATOR,
            observer=OBSERVER,
        )


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError):
        build(
            action="delete",
            outcome="mostly",
            target=AuditTarget("compute.server", "x"),
            initiator=INITIATOR,
            observer=OBSERVER,
        )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (OutcomeStatus.DONE, AuditOutcome.SUCCESS),
        (OutcomeStatus.ALREADY_GONE, AuditOutcome.SUCCESS),
        (OutcomeStatus.SKIPPED, AuditOutcome.SUCCESS),
        (OutcomeStatus.FAILED, AuditOutcome.FAILURE),
        (OutcomeStatus.BLOCKED, AuditOutcome.FAILURE),
        (OutcomeStatus.DEFERRED, AuditOutcome.PENDING),
        (OutcomeStatus.HELD, AuditOutcome.PENDING),
    ],
)
def test_step_statuses_map_to_cadf_outcomes(status: OutcomeStatus, outcome: AuditOutcome) -> None:
    assert AuditOutcome.from_status(status) is outcome


def test_records_built_together_are_the_bytes_of_records_built_alone() -> None:
    """``Shared`` works what a batch's records have in common out once, changing nothing."""
    from reaper.audit.record import Shared

    at = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
    elsewhere = at.astimezone(dt.timezone(dt.timedelta(hours=2)))  # the same instant
    variants: list[dict] = [
        {"extra": {"publisher_id": "identity.host", "duplicate": False}},
        {"extra": {"publisher_id": "identity.host", "duplicate": 0}},  # == False, encodes 0
        {"extra": {"publisher_id": "identity.host", "duplicate": True}},
        {"extra": {"publisher_id": "token=s3cr3t", "duplicate": False}},  # scrubbed
        {"extra": {"steps": [1, 2], "nested": {"a": 1}}},  # not hashable: worked out anew
        {"event_time": elsewhere},
        {"event_time": at.replace(tzinfo=None)},
    ]
    trigger = Trigger(
        TriggerSource.NOTIFICATION,
        event_type="identity.project.deleted",
        message_id="m1",
        initiator={"id": "admin-user", "token": "abc"},
        received_at=at,
    )
    shared = Shared()
    for fields in variants * 2:
        common = {
            "action": AuditAction.RECEIVE,
            "outcome": AuditOutcome.SUCCESS,
            "target": AuditTarget.for_identity(IdentityRef(IdentityKind.PROJECT, "p1")),
            "initiator": INITIATOR,
            "observer": OBSERVER,
            "trigger": trigger,
            "event_time": at,
            "event_id": "e1",
            **fields,
        }
        assert build(**common, shared=shared).body(7) == build(**common).body(7), fields
