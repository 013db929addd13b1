"""Secrets never reach a plan or a before-image: sealed by type, to a matchable hash."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from reaper import planner, sealing
from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget, build
from reaper.inventory import registry
from reaper.inventory.base import Collector, Scope
from reaper.inventory.compute import KEYPAIR, SERVER
from reaper.model import (
    ActionSpec,
    Decision,
    IdentityKind,
    IdentityRef,
    Plan,
    Resource,
    Verdict,
)
from tests.unit.audit.helpers import INITIATOR, OBSERVER

PROJECT = "0c5d5f0e3c2a4b5e9b1d2f3a4b5c6d7e"
USER = "1d6e6f1f4d3b5c6fac2e3f4b5c6d7e8f"
CLOUD_INIT = base64.b64encode(b"#cloud-config\nchpasswd: {list: 'root:S3cr3t-Pa55'}\n").decode()


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def server(**attributes: object) -> Resource:
    return Resource(
        type="compute.server",
        id="6f1c1f9e-9d2b-4c38-8d4f-2d2bb1d0b1a7",
        project_id=PROJECT,
        attributes={"project_id": PROJECT, "flavor": {"id": "m1"}, **attributes},
    )


# -- what each type declares ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "attribute"),
    [
        ("compute.server", "user_data"),
        ("compute.server", "OS-EXT-SRV-ATTR:user_data"),
        ("compute.server", "admin_password"),
        ("compute.server", "adminPass"),
        ("compute.server", "personality"),
        ("compute.keypair", "private_key"),
        ("key_manager.secret", "payload"),
        ("identity.application_credential", "secret"),
        ("identity.credential", "blob"),
        ("identity.user", "password"),
    ],
)
def test_each_type_declares_its_secret_attributes(rtype: str, attribute: str) -> None:
    sealed = sealing.seal(rtype, {attribute: "the secret", "name": "kept"})

    assert sealed == {attribute: digest_of("the secret"), "name": "kept"}


def test_the_declared_types_say_so_on_their_resource_type() -> None:
    assert {"user_data", "admin_password", "personality"} <= SERVER.secret_fields
    assert "private_key" in KEYPAIR.secret_fields


@pytest.mark.parametrize(
    ("rtype", "attribute"),
    [
        # Barbican's types, as a handler written later might name them.
        ("barbican.secret", "payload"),
        ("key_manager.secret_v1", "payload"),
        ("keystone.application_credential", "secret"),
        ("keystone.credential", "blob"),
        ("keystone.user", "password"),
    ],
)
def test_a_declared_secret_is_sealed_whatever_its_type_is_called(
    rtype: str, attribute: str
) -> None:
    """Sealing never relies on a type being named as :data:`SECRET_FIELDS` assumes.

    Barbican and Keystone types are named there before any handler produces
    them; one named otherwise must not leak what the table meant to seal.
    """
    assert sealing.seal(rtype, {attribute: "s3cr3t"}) == {attribute: digest_of("s3cr3t")}


def test_every_type_with_secrets_is_one_a_handler_declares_or_is_listed_as_not_inventoried() -> (
    None
):
    declared = set(registry.resource_types())

    assert set(sealing.SECRET_FIELDS) - declared == set(sealing.NOT_INVENTORIED)
    assert not sealing.NOT_INVENTORIED & declared, "inventoried now: move it out of the list"


def test_user_data_is_sealed_whatever_the_type() -> None:
    assert sealing.seal("new.type", {"user_data": CLOUD_INIT}) == {
        "user_data": digest_of(CLOUD_INIT)
    }


def test_personality_files_are_hashed_as_canonical_json() -> None:
    files = [{"path": "/etc/secret", "contents": "c2VjcmV0"}]
    sealed = sealing.seal("compute.server", {"personality": files})["personality"]

    assert sealed == sealing.fingerprint(files)
    assert "c2VjcmV0" not in sealed


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_an_empty_secret_attribute_stays_visibly_empty(empty: object) -> None:
    assert sealing.seal("compute.server", {"user_data": empty}) == {"user_data": empty}


def test_sealing_twice_keeps_the_first_hash() -> None:
    once = sealing.seal_resource(server(user_data=CLOUD_INIT))

    assert sealing.seal_resource(once).attributes == once.attributes


def test_a_resource_with_nothing_secret_is_returned_as_it_is() -> None:
    plain = server()

    assert sealing.seal_resource(plain) is plain


# -- where plans and before-images are built -------------------------------------------


def test_a_collected_server_keeps_the_hash_of_its_user_data_not_the_user_data() -> None:
    found = Collector("compute", Scope.of(IdentityRef(IdentityKind.PROJECT, PROJECT)))

    found.add(SERVER, server(user_data=CLOUD_INIT, admin_password="hunter2"))

    (kept,) = found.finding().resources
    assert kept.attributes["user_data"] == digest_of(CLOUD_INIT)
    assert kept.attributes["admin_password"] == digest_of("hunter2")
    assert kept.attributes["reaper_relation"] == "owner"


def test_a_server_that_failed_the_owner_recheck_is_sealed_too() -> None:
    found = Collector("compute", Scope.of(IdentityRef(IdentityKind.PROJECT, PROJECT)))
    foreign = Resource(
        type="compute.server", id="x", project_id=USER, attributes={"user_data": CLOUD_INIT}
    )

    found.add(SERVER, foreign)

    (mismatch,) = found.finding().mismatches
    assert mismatch.attributes["user_data"] == digest_of(CLOUD_INIT)


def test_a_collected_keypair_never_keeps_a_private_key() -> None:
    found = Collector("compute", Scope.of(IdentityRef(IdentityKind.USER, USER)))
    pair = Resource(
        type="compute.keypair",
        id=f"{USER}:k",
        user_id=USER,
        attributes={"user_id": USER, "private_key": "-----BEGIN PRIVATE KEY-----\nMC4"},
    )

    found.add(KEYPAIR, pair)

    assert "BEGIN PRIVATE KEY" not in json.dumps(found.finding().resources[0].attributes)


def test_a_plan_and_its_file_never_hold_the_user_data() -> None:
    """Whoever built the resources, ``build_plan`` seals what the plan keeps."""
    unsealed = server(user_data=CLOUD_INIT)
    decision = Decision(unsealed.ref, Verdict.ACT, (ActionSpec("delete"),))

    plan = planner.build_plan(IdentityRef(IdentityKind.PROJECT, PROJECT), [unsealed], [decision])

    text = json.dumps(plan.to_dict())
    assert CLOUD_INIT not in text
    assert digest_of(CLOUD_INIT) in text
    assert Plan.from_dict(json.loads(text)).content_hash == plan.content_hash


def audit_body(before: object) -> str:
    return build(
        action=AuditAction.DELETE,
        outcome=AuditOutcome.SUCCESS,
        target=AuditTarget.for_resource(server()),
        initiator=INITIATOR,
        observer=OBSERVER,
        before=before,
    ).body(1)


def test_a_before_image_keeps_the_hash_of_user_data_and_admin_pass() -> None:
    body = audit_body(server(user_data=CLOUD_INIT, adminPass="hunter2"))

    before = json.loads(body)["reaper"]["before"]["attributes"]
    assert before["user_data"] == digest_of(CLOUD_INIT)
    assert before["adminPass"] == digest_of("hunter2")
    assert CLOUD_INIT not in body and "hunter2" not in body


def test_a_before_image_an_action_read_itself_is_sealed_at_any_depth() -> None:
    body = audit_body({"server": {"OS-EXT-SRV-ATTR:user_data": CLOUD_INIT, "name": "web"}})

    assert CLOUD_INIT not in body
    assert json.loads(body)["reaper"]["before"]["server"]["name"] == "web"
