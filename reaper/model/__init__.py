"""The domain: plain, immutable values that the pipeline stages pass along.

Every stage (events -> verify -> inventory -> policy -> planner -> executor ->
audit) talks to the next through these types only, so each stage can be
tested with values built by hand, and nothing here does I/O.

One module per kind of value, each importable from here as before:
:mod:`~reaper.model.identity` (identities, Keystone's events, trigger names),
:mod:`~reaper.model.resources` (resources, their edges, decisions),
:mod:`~reaper.model.plan` (steps and the hashed plan),
:mod:`~reaper.model.outcomes` (each step's final word),
:mod:`~reaper.model.tombstones` (one identity's cleanup and its triggers) and
:mod:`~reaper.model.clock` (aware UTC time).
"""

from __future__ import annotations

from reaper.model.clock import utcnow
from reaper.model.identity import (
    TRIGGERS,
    IdentityAction,
    IdentityEvent,
    IdentityKind,
    IdentityRef,
    trigger_name,
)
from reaper.model.outcomes import BUDGET_SPENT, Outcome, OutcomeStatus
from reaper.model.plan import Plan, PlanIntegrityError, Step
from reaper.model.resources import ActionSpec, Decision, Edge, Resource, ResourceRef, Verdict
from reaper.model.tombstones import Tombstone, TombstoneState, Trigger, TriggerSource

__all__ = [
    "BUDGET_SPENT",
    "TRIGGERS",
    "ActionSpec",
    "Decision",
    "Edge",
    "IdentityAction",
    "IdentityEvent",
    "IdentityKind",
    "IdentityRef",
    "Outcome",
    "OutcomeStatus",
    "Plan",
    "PlanIntegrityError",
    "Resource",
    "ResourceRef",
    "Step",
    "Tombstone",
    "TombstoneState",
    "Trigger",
    "TriggerSource",
    "Verdict",
    "trigger_name",
    "utcnow",
]
