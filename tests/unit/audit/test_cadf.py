"""A record's CADF part is exactly what pycadf would build, without building it per record.

pycadf is the oracle here: each case builds the pycadf ``Event`` the old way
(targets with their real ids, reasons, every optional field) and compares its
``vars()`` with what :func:`reaper.audit.record.build` writes.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from pycadf import event as cadf_event
from pycadf import reason as cadf_reason
from pycadf import resource as cadf_resource

from reaper.audit.cadf import AuditReason, AuditTarget
from reaper.audit.columns import cadf_time
from reaper.audit.record import build
from reaper.model import IdentityKind, IdentityRef
from tests.unit.audit.helpers import INITIATOR, OBSERVER, T0

EVENT_ID = "7d5c1f7e-2a8b-4f7c-9f0e-1a2b3c4d5e6f"


def oracle_target(target: AuditTarget) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycadf warns for ids that are not UUIDs
        res = cadf_resource.Resource(id=target.id, typeURI=target.type_uri)
    if target.name is not None:
        res.name = target.name
    for attr in ("project_id", "user_id", "domain_id"):
        value = getattr(target, attr)
        if value is not None:
            setattr(res, attr, str(value))
    return dict(vars(res))


def oracle_reason(reason: AuditReason) -> dict[str, Any]:
    built = cadf_reason.Reason(reasonType=reason.kind, reasonCode=reason.text)
    if reason.policy is not None:
        built.policyType = "reaper/policy"
        built.policyId = reason.policy if reason.rule is None else f"{reason.policy}:{reason.rule}"
    return dict(vars(built))


def oracle(action: str, outcome: str, target: AuditTarget, reason: AuditReason | None) -> dict:
    event = cadf_event.Event(
        id=EVENT_ID,
        eventTime=cadf_time(T0),
        action=action,
        outcome=outcome,
        initiator=INITIATOR.cadf,
        target=cadf_resource.Resource(id=EVENT_ID, typeURI=target.type_uri),
        observer=OBSERVER.cadf,
    )
    if reason is not None:
        event.reason = cadf_reason.Reason(reasonType="x", reasonCode="y")
    assert event.is_valid()
    expected = dict(vars(event))
    expected["initiator"] = dict(vars(INITIATOR.cadf))
    expected["observer"] = dict(vars(OBSERVER.cadf))
    expected["target"] = oracle_target(target)
    if reason is not None:
        expected["reason"] = oracle_reason(reason)
    return expected


TARGETS = [
    AuditTarget(
        "compute.server",
        "6f1c1f9e-9d2b-4c38-8d4f-2d2bb1d0b1a7",
        name="web-1",
        project_id="p1",
        user_id="u1",
    ),
    AuditTarget("compute.keypair", "ops key", name=""),
    AuditTarget.for_identity(IdentityRef(IdentityKind.DOMAIN, "d1"), name="Default"),
    AuditTarget.for_notification(None),
    AuditTarget("dns.zone", "z1", domain_id="d1"),
    AuditTarget("reaper.tombstone", "t1"),
]
REASONS = [
    None,
    AuditReason(),
    AuditReason(text="tagged reaper:keep"),
    AuditReason.policy_match("default", "servers", "matched"),
    AuditReason.policy_match("default", None),
    AuditReason.error(RuntimeError("boom")),
]


ACTIONS = [("delete", "success"), ("read/list", "failure"), ("monitor", "pending"),
           ("update", "unknown")]  # fmt: skip


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.type)
@pytest.mark.parametrize("reason", REASONS, ids=lambda r: "none" if r is None else r.kind)
@pytest.mark.parametrize(("action", "outcome"), ACTIONS)
def test_the_cadf_part_equals_pycadfs_event(
    target: AuditTarget, reason: AuditReason | None, action: str, outcome: str
) -> None:
    draft = build(
        action=action,
        outcome=outcome,
        target=target,
        initiator=INITIATOR,
        observer=OBSERVER,
        reason=reason,
        event_time=T0,
        event_id=EVENT_ID,
    )

    assert draft.cadf == oracle(action, outcome, target, reason)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (AuditTarget("compute.server", ""), None),  # pycadf: an id must not be empty
        (AuditTarget("compute.server", "s", name=7), None),  # type: ignore[arg-type]
        (AuditTarget("compute.server", "s"), AuditReason(text=None)),  # type: ignore[arg-type]
        (AuditTarget("compute.server", "s"), AuditReason(policy=3)),  # type: ignore[arg-type]
    ],
)
def test_what_pycadf_refuses_is_refused(target: AuditTarget, reason: AuditReason | None) -> None:
    with pytest.raises(ValueError):
        build(
            action="delete",
            outcome="success",
            target=target,
            initiator=INITIATOR,
            observer=OBSERVER,
            reason=reason,
        )
