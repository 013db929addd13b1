"""Fakes at the road's seams: Keystone, the inventory and the runner, all scripted.

What they stand in for is the cloud; everything the road decides (states,
plans, audit records, which steps run) is the real code, over a real
SQLite store in a temporary file.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from reaper.actions.runner import Prechecker
from reaper.cleanup.house import AdminProject
from reaper.cleanup.seams import Cloud
from reaper.cleanup.verify import IdentityState, Verification, VerificationError
from reaper.executor import Attempt, Confirmation, Precheck, Result
from reaper.inventory.base import Finding, Scope
from reaper.inventory.discover import Inventory
from reaper.model import IdentityKind, IdentityRef, Resource, ResourceRef, Step

PROJECT = IdentityRef(IdentityKind.PROJECT, "p-deleted")

#: Deletes a deleted project's servers; protects anything tagged reaper:keep.
POLICY = """
policies:
  - name: keep
    triggers: ["*"]
    resources: ["*"]
    protect: [{tag: "reaper:keep"}]
  - name: delete-servers
    triggers: [identity.project.deleted]
    resources: [compute.server]
    actions: [delete]
"""


def server(sid: str, project: str = PROJECT.id, **attributes: Any) -> Resource:
    """A server as the compute inventory hands it over."""
    attributes = {"project_id": project, "tags": [], "reaper_relation": "owner", **attributes}
    return Resource(type="compute.server", id=sid, project_id=project, attributes=attributes)


class Keystone:
    """Answers for identities as scripted: a state, or an error (unreachable)."""

    def __init__(self, answers: Mapping[IdentityRef, IdentityState | Exception] | None = None):
        self.answers = dict(answers or {})
        self.asked: list[IdentityRef] = []

    def __call__(self, identity: IdentityRef) -> Verification:
        self.asked.append(identity)
        answer = self.answers.get(identity, IdentityState.GONE)
        if isinstance(answer, Exception):
            raise answer
        return Verification(identity, answer, name=f"name-of-{identity.id}")


def unreachable() -> VerificationError:
    return VerificationError("Keystone unreachable while checking: ConnectionError")


class Inventory_:
    """Returns what the scope owns, from a list that tests change between calls."""

    def __init__(self, resources: Sequence[Resource] = ()) -> None:
        self.resources = list(resources)
        self.scopes: list[Scope] = []
        #: Findings of other handlers, as scripted (a failed one carries ``errors``).
        self.others: list[Finding] = []

    def __call__(self, scope: Scope) -> Inventory:
        self.scopes.append(scope)
        owned = tuple(r for r in self.resources if r.project_id in scope.project_ids)
        findings = (Finding("compute", resources=owned), *self.others)
        return Inventory(scope=scope, findings=findings)


class Runner:
    """Runs every step at once (DONE) unless scripted; records what ran.

    A scripted result is a :class:`Result`, an exception to raise, or a
    callable returning either (called when the step runs).
    """

    def __init__(self, prechecker: Prechecker | None, results: Mapping[str, Any]) -> None:
        self.prechecker = prechecker
        self.results = results
        self.ran: list[str] = []
        self.lock = threading.Lock()

    def precheck(
        self, steps: Sequence[Step], resources: Mapping[ResourceRef, Resource]
    ) -> Mapping[ResourceRef, Precheck]:
        return self.prechecker(steps, resources) if self.prechecker else {}

    def run(self, step: Step, resource: Resource | None) -> Attempt:
        with self.lock:
            self.ran.append(step.id)
        result = self.results.get(step.id, Result.DONE)
        if callable(result):  # a step that takes its time, or decides as it goes
            result = result()
        if isinstance(result, Exception):
            raise result
        return Attempt(result, "scripted")

    def confirm(self, rtype: str, action: str, pending: Mapping[str, Resource]) -> Confirmation:
        return Confirmation(gone=frozenset(pending))

    def lookup_first(self, step: Step, resource: Resource | None) -> bool:
        return False


class House:
    """Reaper's own and the admin project as Keystone would name them, or an error."""

    def __init__(self, ids: frozenset[str] = frozenset({"p-reaper", "p-admin"})) -> None:
        self.ids: frozenset[str] | Exception = ids
        self.asked: list[tuple[str, str]] = []

    def __call__(self, admin: AdminProject) -> frozenset[str]:
        self.asked.append((admin.name, admin.domain))
        if isinstance(self.ids, Exception):
            raise self.ids
        return self.ids


@dataclasses.dataclass
class FakeCloud:
    """The three seams, scripted, and what each was asked."""

    keystone: Keystone = dataclasses.field(default_factory=Keystone)
    inventory: Inventory_ = dataclasses.field(default_factory=Inventory_)
    results: dict[str, Any] = dataclasses.field(default_factory=dict)
    runners: list[Runner] = dataclasses.field(default_factory=list)
    plan_hashes: list[str] = dataclasses.field(default_factory=list)
    house: House = dataclasses.field(default_factory=House)
    conn: Any = None
    #: A project's usage as the services would report it (None: not measured).
    usage: Any = None

    def runner(self, prechecker: Prechecker | None, plan_hash: str) -> Runner:
        made = Runner(prechecker, self.results)
        self.plan_hashes.append(plan_hash)
        self.runners.append(made)
        return made

    @property
    def ran(self) -> list[str]:
        return [step for runner in self.runners for step in runner.ran]

    def seams(self) -> Cloud:
        return Cloud(
            keystone=self.keystone,
            inventory=self.inventory,
            runner=self.runner,
            house=self.house,
            conn=self.conn,
            usage=self.usage,
        )


class CountingPlans:
    """Wraps ``store.plans`` to count loads: a plan in hand is never read back."""

    def __init__(self, plans: Any) -> None:
        self._plans = plans
        self.loads: collections.Counter[str] = collections.Counter()

    def load(self, plan_hash: str) -> Any:
        self.loads[plan_hash] += 1
        return self._plans.load(plan_hash)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plans, name)
