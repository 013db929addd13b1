"""A record made from a template is, byte for byte, the record built from the same values."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from reaper.audit.record import AuditTarget, RecordDraft, Shared, build
from reaper.audit.template import Template
from reaper.model import IdentityKind, IdentityRef, Trigger, TriggerSource
from tests.unit.audit.helpers import INITIATOR, OBSERVER, T0

HOLES = ("identity", "tombstone", "message", "event")


def receipt(values: Mapping[str, str], shared: Shared | None = None) -> RecordDraft:
    return build(
        action="receive",
        outcome="success",
        target=AuditTarget.for_identity(IdentityRef(IdentityKind.PROJECT, values["identity"])),
        initiator=INITIATOR,
        observer=OBSERVER,
        reason="identity.project.deleted (basic) recorded",
        tombstone_id=values["tombstone"],
        trigger=Trigger(
            TriggerSource.NOTIFICATION,
            event_type="identity.project.deleted",
            message_id=values["message"],
            initiator={"id": "admin", "name": 'quote " and \\ backslash'},
            received_at=T0,
        ),
        extra={"publisher_id": "identity.keystone-1", "duplicate": False},
        event_time=T0,
        event_id=values["event"],
        actor_ids=True,
        shared=shared,
    )


def values(n: int, message: str | None = None) -> dict[str, str]:
    return {
        "identity": f"{n:032x}",
        "tombstone": f"00000000-0000-0000-0000-{n:012d}",
        "message": message or f"msg-{n}",
        "event": f"10000000-0000-0000-0000-{n:012d}",
    }


ODD = [
    'a "quoted" id',
    "back\\slash",
    "ünïcödé ✓ 🚀",
    "tab\tnew\nline\x00nul",
    "\ud800 lone surrogate",
    "",
    "reaper-hole-not-a-marker",
]


@pytest.mark.parametrize("seq", [1, 42, 10**12])
def test_copies_are_the_records_built_from_their_values(seq: int) -> None:
    shared = Shared()
    template = Template(lambda v: receipt(v, shared), HOLES)
    for n, odd in enumerate(["plain", *ODD]):
        own = values(n, message=odd)
        own["identity"] = odd if n % 2 else own["identity"]
        copy = template.make(own)
        built = receipt(own)
        assert copy is not None
        assert copy.body(seq) == built.body(seq)
        assert copy.index == built.index


def test_a_value_that_is_not_a_string_is_left_to_the_caller() -> None:
    template = Template(receipt, HOLES)
    assert template.make({**values(1), "message": None}) is None  # type: ignore[dict-item]
    assert template.make(values(2)) is not None


def test_a_shape_whose_holes_cannot_be_cut_out_is_never_templated() -> None:
    """A value the record does not hold verbatim (here: hashed into it) is not a hole."""

    def hashed(v: Mapping[str, str]) -> RecordDraft:
        return receipt({**v, "tombstone": str(hash(v["tombstone"]))})

    template = Template(hashed, HOLES)
    assert template.make(values(1)) is None
    assert template.make(values(2)) is None


def test_a_template_that_disagrees_with_build_is_never_used() -> None:
    """The first copy is checked against the record built from the same values."""
    calls = []

    def flaky(v: Mapping[str, str]) -> RecordDraft:
        calls.append(v)
        # The template's own record (markers) and the check's differ in their reason.
        reason = "first" if len(calls) == 1 else "second"
        draft = receipt(v)
        cadf = {**draft.cadf, "reason": {"reasonCode": reason, "reasonType": "x"}}
        return RecordDraft(cadf=cadf, reaper=draft.reaper, index=draft.index)

    template = Template(flaky, HOLES)
    assert template.make(values(1)) is None
    assert template.make(values(2)) is None


def test_a_shape_that_agreed_before_is_not_built_twice_more() -> None:
    """Holes are verbatim by shape, so a later batch's template skips the check."""
    calls: list[Mapping[str, str]] = []

    def counted(v: Mapping[str, str]) -> RecordDraft:
        calls.append(v)
        return receipt(v)

    copy = Template(counted, HOLES, checked=True).make(values(1))
    assert copy is not None and copy.body(3) == receipt(values(1)).body(3)
    assert len(calls) == 1  # the template's own record only
    calls.clear()
    assert Template(counted, HOLES).make(values(1)) is not None
    assert len(calls) == 2  # and the record it is checked against
