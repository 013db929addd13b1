"""Parsing Keystone notifications: every real capture, and everything hostile."""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reaper.events import keystone
from reaper.events import payload as payload_size
from reaper.ids import IdFormats
from reaper.model import IdentityAction, IdentityEvent, IdentityKind

CAPTURES = pathlib.Path(__file__).parents[2] / "fixtures" / "keystone"
FILES = sorted(CAPTURES.glob("*.json"))
INTERESTING = re.compile(r"^identity\.(project|user|domain)\.(deleted|updated)$")


def _load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


def test_the_captures_are_all_there() -> None:
    assert len(FILES) == 169
    assert {p.name.split("-")[0] for p in FILES} == {"basic", "cadf"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_captured_notification_is_parsed_or_rejected_by_type(path: pathlib.Path) -> None:
    record = _load(path)
    if INTERESTING.match(record["event_type"]):
        event = keystone.from_file_record(record)
        assert event.identity_id == record["payload"]["resource_info"]
        assert event.event_type == record["event_type"]
        assert event.message_id == record["metadata"]["message_id"]
        assert event.format == ("cadf" if path.name.startswith("cadf") else "basic")
    else:
        with pytest.raises(keystone.UnknownEventType):
            keystone.from_file_record(record)


def test_a_basic_project_deletion() -> None:
    event = keystone.from_file_record(_load(CAPTURES / "basic-011-identity.project.deleted.json"))
    assert event.kind is IdentityKind.PROJECT
    assert event.action is IdentityAction.DELETED
    assert event.identity_id == "992019b2171f43a0bf130c38ae056fdf"
    assert event.initiator is None
    assert event.publisher_id == "identity.vm"


def test_a_cadf_deletion_keeps_who_asked_but_not_the_caller_project_as_target() -> None:
    event = keystone.from_file_record(_load(CAPTURES / "cadf-011-identity.project.deleted.json"))
    assert event.format == "cadf"
    assert event.identity_id == "bedd5c008b1045fda4058919306085a6"
    assert event.initiator is not None
    assert event.initiator["username"] == "admin"
    assert event.initiator["address"] == "127.0.0.1"
    # The initiator's project is the caller's, never the deleted one.
    assert event.initiator["project_id"] != event.identity_id


def test_contents_deleted_with_a_domain_have_no_initiator() -> None:
    event = keystone.from_file_record(_load(CAPTURES / "cadf-035-identity.project.deleted.json"))
    assert event.initiator is None


def test_updates_are_parsed_as_updates_for_keystone_to_explain() -> None:
    event = keystone.from_file_record(_load(CAPTURES / "basic-017-identity.domain.updated.json"))
    assert event.kind is IdentityKind.DOMAIN
    assert event.action is IdentityAction.UPDATED


def test_authenticate_events_are_not_identity_changes() -> None:
    record = _load(CAPTURES / "basic-optout_empty-086-identity.authenticate.json")
    with pytest.raises(keystone.UnknownEventType):
        keystone.from_file_record(record)


BASE = {"resource_info": "0123456789abcdef0123456789abcdef", "request_id": "req-1"}


@pytest.mark.parametrize(
    ("event_type", "payload", "error", "message"),
    [
        ("identity.project.deleted", {}, keystone.MalformedNotification, "names no identity"),
        ("identity.project.deleted", "x", keystone.MalformedNotification, "not an object"),
        ("identity.project.deleted", None, keystone.MalformedNotification, "not an object"),
        ("identity.project.deleted", [BASE], keystone.MalformedNotification, "not an object"),
        (
            "identity.project.deleted",
            {"resource_info": 42},
            keystone.NotAKeystoneId,
            "must be a string",
        ),
        (
            "identity.project.deleted",
            {"resource_info": "a b"},
            keystone.NotAKeystoneId,
            "not a project id",
        ),
        (
            "identity.project.deleted",
            {"resource_info": "x" * 65},
            keystone.NotAKeystoneId,
            "not a project id",
        ),
        (
            "identity.project.deleted",
            {"resource_info": "x" * 70_000},
            keystone.PayloadTooLarge,
            "exceeds",
        ),
        ("identity.project.created", BASE, keystone.UnknownEventType, "not an identity"),
        ("identity.group.deleted", BASE, keystone.UnknownEventType, "not an identity"),
        ("compute.instance.delete.end", BASE, keystone.UnknownEventType, "not an identity"),
        (None, BASE, keystone.MalformedNotification, "not a string"),
        (b"identity.project.deleted", BASE, keystone.MalformedNotification, "not a string"),
    ],
)
def test_bad_input_is_a_typed_rejection(event_type, payload, error, message) -> None:
    with pytest.raises(error, match=message):
        keystone.parse({}, "identity.host", event_type, payload, {"message_id": "m"})


LIVE = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("event_type", "identity_id"),
    [
        # Each was answered 404 by Keystone and cleaned up as if deleted (issue 13, item 10).
        ("identity.project.deleted", "%"),
        ("identity.project.deleted", "*"),
        ("identity.project.deleted", LIVE.upper()),
        # Not made by Keystone's uuid4().hex either.
        ("identity.project.deleted", "0123456789abcdef0123456789abcde"),
        ("identity.project.deleted", "01234567-89ab-cdef-0123-456789abcdef"),
        ("identity.project.deleted", "default"),
        ("identity.project.updated", "admin"),
        ("identity.user.deleted", "*"),
        ("identity.user.deleted", LIVE[:30] + "%%"),
        ("identity.user.deleted", "A" * 64),
        ("identity.domain.deleted", "Default"),
        ("identity.domain.deleted", "%"),
    ],
)
def test_an_id_keystone_could_not_have_made_is_rejected(event_type, identity_id) -> None:
    with pytest.raises(keystone.NotAKeystoneId) as rejected:
        keystone.parse({}, "identity.h", event_type, {"resource_info": identity_id}, {})
    assert rejected.value.code == "bad_id"
    assert "not" in rejected.value.reason


@pytest.mark.parametrize(
    ("event_type", "identity_id"),
    [
        ("identity.project.deleted", LIVE),
        ("identity.user.deleted", LIVE),
        # Federated and LDAP domain-specific users: Keystone's sha256 id mapping.
        ("identity.user.deleted", "ab" * 32),
        ("identity.domain.deleted", LIVE),
        ("identity.domain.updated", "default"),
    ],
)
def test_ids_in_keystones_formats_are_accepted(event_type, identity_id) -> None:
    event = keystone.parse({}, "identity.h", event_type, {"resource_info": identity_id}, {})
    assert event.identity_id == identity_id


def test_a_cloud_with_ldap_user_ids_widens_the_user_format_only() -> None:
    rules = keystone.Rules(
        ids=IdFormats.from_patterns({IdentityKind.USER: "[0-9a-f]{32}|[a-z][a-z0-9._-]*"})
    )
    event = keystone.parse(
        {}, "h", "identity.user.deleted", {"resource_info": "jdoe"}, {}, rules=rules
    )
    assert event.identity_id == "jdoe"
    with pytest.raises(keystone.NotAKeystoneId, match="project_id_pattern"):
        keystone.parse(
            {}, "h", "identity.project.deleted", {"resource_info": "jdoe"}, {}, rules=rules
        )


def test_no_pattern_lets_a_wildcard_through() -> None:
    rules = keystone.Rules(ids=IdFormats.from_patterns({kind: ".*" for kind in IdentityKind}))
    for identity_id in ("*", "%", "a%b", "x" * 65, "a b", "../servers", ""):
        with pytest.raises(keystone.NotAKeystoneId):
            keystone.parse(
                {}, "h", "identity.project.deleted", {"resource_info": identity_id}, {}, rules=rules
            )


def test_a_cadf_target_that_disagrees_with_resource_info_is_refused() -> None:
    payload = {
        "typeURI": keystone.CADF_TYPE_URI,
        "resource_info": "a" * 32,
        "target": {"id": "b" * 32, "typeURI": "data/security/project"},
    }
    with pytest.raises(keystone.MalformedNotification, match="disagree"):
        keystone.parse({}, "identity.h", "identity.project.deleted", payload, {})


def test_missing_metadata_is_tolerated_but_recorded_as_absent() -> None:
    event = keystone.parse(None, None, "identity.user.deleted", BASE, None)
    assert event.message_id is None and event.publisher_id is None


def test_the_default_domain_id_is_a_valid_identity() -> None:
    event = keystone.parse({}, "p", "identity.domain.deleted", {"resource_info": "default"}, {})
    assert event.identity_id == "default"


def test_a_deeply_nested_payload_is_rejected_not_crashing() -> None:
    payload: dict = {"resource_info": "a" * 32}
    node = payload
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    result = keystone.classify({}, "p", "identity.project.deleted", payload, {})
    assert isinstance(result, keystone.Rejected)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    ctxt=json_values,
    publisher=json_values,
    event_type=st.one_of(
        st.sampled_from(
            ["identity.project.deleted", "identity.user.updated", "identity.domain.deleted"]
        ),
        json_values,
    ),
    payload=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"resource_info": json_values}, optional={"typeURI": st.just(keystone.CADF_TYPE_URI)}
        ),
    ),
    metadata=json_values,
)
def test_anything_on_the_bus_is_an_event_or_a_rejection(
    ctxt, publisher, event_type, payload, metadata
) -> None:
    result = keystone.classify(ctxt, publisher, event_type, payload, metadata)
    assert isinstance(result, (keystone.Rejected, IdentityEvent))
    if not isinstance(result, keystone.Rejected):
        assert IdFormats().problem(result.kind, result.identity_id) is None


DELETED = ("identity.project.deleted", {"resource_info": LIVE})
CADF = {
    "typeURI": keystone.CADF_TYPE_URI,
    "resource_info": LIVE,
    "initiator": {"id": "u" * 32, "name": "admin", "host": {"address": "10.0.0.1"}},
}


@pytest.mark.parametrize(
    ("publisher", "payload", "metadata", "said"),
    [
        # One such message id stalled the listener on PostgreSQL (issue 13, item 13).
        ("p", DELETED[1], {"message_id": "m" * 256}, "message_id of 256 characters"),
        ("p", DELETED[1], {"message_id": "a\x00b"}, "message_id holds characters"),
        ("p", DELETED[1], {"message_id": "\ud800"}, "message_id holds characters"),
        ("p", DELETED[1], {"message_id": 42}, "message_id is int"),
        ("p", DELETED[1], {"message_id": ["m"]}, "message_id is list"),
        ("p" * 256, DELETED[1], {}, "publisher_id of 256 characters"),
        ("p\x00", DELETED[1], {}, "publisher_id holds characters"),
        ({"a": 1}, DELETED[1], {}, "publisher_id is dict"),
        ("p", DELETED[1], {"timestamp": "t" * 65}, "timestamp of 65"),
        ("p", {**CADF, "initiator": {"name": "n" * 256}}, {}, "initiator.name of 256"),
        ("p", {**CADF, "initiator": {"id": "\x07"}}, {}, "initiator.id holds characters"),
        (
            "p",
            {**CADF, "initiator": {"host": {"address": "a" * 300}}},
            {},
            "initiator.address of 300",
        ),
    ],
)
def test_a_field_reaper_would_store_is_bounded_at_parse_time(
    publisher, payload, metadata, said
) -> None:
    with pytest.raises(keystone.BadField, match=re.escape(said)) as rejected:
        keystone.parse({}, publisher, DELETED[0], payload, metadata)
    assert rejected.value.code == "bad_field"


def test_a_rejected_message_is_named_by_a_truncated_hash_of_its_unstorable_id() -> None:
    long_id = "m" * 300
    rejected = keystone.classify({}, "p", *DELETED, {"message_id": long_id})
    assert isinstance(rejected, keystone.BadField)
    digest = hashlib.sha256(long_id.encode()).hexdigest()[:16]
    assert rejected.message_ref == f"sha256:{digest}"
    assert f"sha256:{digest}" in rejected.reason
    assert long_id not in rejected.reason


def test_a_rejected_message_with_a_good_id_is_named_by_it() -> None:
    rejected = keystone.classify({}, "p", "identity.project.deleted", {}, {"message_id": "m-1"})
    assert isinstance(rejected, keystone.Rejected)
    assert rejected.message_ref == "m-1"


def test_fields_at_their_limits_are_kept() -> None:
    metadata = {"message_id": "m" * 255, "timestamp": "t" * 64}
    payload = {**CADF, "initiator": {"name": "é" * 255}}
    event = keystone.parse({}, "p" * 255, DELETED[0], payload, metadata)
    assert event.message_id == "m" * 255 and event.publisher_id == "p" * 255
    assert event.initiator == {"name": "é" * 255}


def test_the_field_limits_fit_the_columns_they_are_stored_in() -> None:
    from reaper.store import schema

    column = schema.tombstone_triggers.c.message_id.type.length
    assert keystone.FIELD_LIMITS["message_id"] <= column
    assert IdFormats().problem(IdentityKind.PROJECT, "a" * 65) is not None
    assert schema.tombstones.c.identity_id.type.length >= 64


def test_a_rejection_is_storable_whatever_it_quotes() -> None:
    rejected = keystone.classify({}, "p", "identity.\ud800" + "x" * 500, {}, {})
    assert isinstance(rejected, keystone.UnknownEventType)
    assert rejected.event_type is not None and len(rejected.event_type) <= 100
    rejected.event_type.encode("utf-8")
    rejected.reason.encode("utf-8")


def _storable(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable()


@settings(max_examples=300, deadline=None)
@given(
    publisher=json_values,
    metadata=st.fixed_dictionaries(
        {}, optional={"message_id": json_values, "timestamp": json_values}
    ),
    initiator=st.dictionaries(st.sampled_from(["id", "name", "host"]), json_values, max_size=3),
)
@example(publisher="p", metadata={}, initiator={"id": ""})  # an empty field is absent
def test_every_field_of_an_accepted_event_can_be_stored(publisher, metadata, initiator) -> None:
    payload = {**CADF, "initiator": initiator}
    result = keystone.classify({}, publisher, DELETED[0], payload, metadata)
    if isinstance(result, keystone.Rejected):
        assert result.message_ref is None or _storable(result.message_ref)
        return
    for value in (result.message_id, result.publisher_id, result.timestamp):
        assert value is None or _storable(value)
    for value in (result.initiator or {}).values():
        assert _storable(value)


CREATED = re.compile(r"^identity\.(project|user|domain)\.created$")


@pytest.mark.parametrize(
    "path", [p for p in FILES if CREATED.match(_load(p)["event_type"])], ids=lambda p: p.name
)
def test_every_captured_creation_names_an_identity_seen_alive(path: pathlib.Path) -> None:
    """The directory of identities seen alive learns each (issue 13, item 10)."""
    record = _load(path)
    seen = keystone.seen_alive(record["event_type"], record["payload"])
    assert seen is not None
    assert seen.id == record["payload"]["resource_info"]
    assert seen.kind.value == record["event_type"].split(".")[1]


@pytest.mark.parametrize("bad_id", ["*", "%", "D825AA5F957540E2B45C7810378C42E6", ""])
def test_a_creation_of_an_id_keystone_never_makes_teaches_nothing(bad_id: str) -> None:
    assert keystone.seen_alive("identity.project.created", {"resource_info": bad_id}) is None


def test_only_creations_are_seen_alive() -> None:
    payload = {"resource_info": "d825aa5f957540e2b45c7810378c42e6"}
    assert keystone.seen_alive("identity.project.deleted", payload) is None
    assert keystone.seen_alive("identity.role_assignment.created", payload) is None


@given(payload=json_values)
@settings(max_examples=300)
def test_the_size_bound_never_lets_a_payload_over_the_limit_through(payload: Any) -> None:
    """oversize answers what encoding the payload answers, at every limit around its size."""
    size = payload_size.size(payload)
    assert payload_size._bound(payload, payload_size._BOUND_DEPTH) >= size
    for limit in (0, size - 1, size, size + 1, 65536):
        assert payload_size.oversize(payload, limit) == (size if size > limit else None)


def test_a_payload_of_astral_and_control_characters_is_measured_as_encoded() -> None:
    payload = {"resource_info": "\U0001f600" * 10 + "\x00" * 5, "n": [1, -2, None, True]}
    size = len(json.dumps(payload))
    assert payload_size.oversize(payload, size - 1) == size
    assert payload_size.oversize(payload, size) is None
