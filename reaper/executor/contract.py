"""The executor's contract with the rest of reaper: what a runner and an observer are.

A :class:`Runner` is the executor's only way to the cloud (the actions
implement its ``run``); an :class:`Observer` hears about every step (the
audit trail, progress, metrics). :class:`Limits` are the ``[executor]``
options as values; :class:`Report` is what a run returns.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reaper.model import Outcome, OutcomeStatus, Resource, ResourceRef, Step


class Result(str, enum.Enum):
    """What one attempt of an action achieved."""

    DONE = "done"
    #: Accepted; the resource disappears asynchronously (confirm by listing).
    ACCEPTED = "accepted"
    #: The resource was not there (404).
    GONE = "gone"
    #: Dry-run: the first mutating request was refused, as it must be.
    WOULD = "would"


@dataclasses.dataclass(frozen=True)
class Attempt:
    result: Result
    detail: str = ""


class Transient(Exception):
    """A failure worth retrying; ``retry_after`` seconds if the service said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Conflict(Transient):
    """The resource is not in a state that allows the request yet (409, a volume in use).

    Retried like any transient failure, but only within a budget
    (``[executor] conflict_retry_budget`` attempts, counted across runs): a
    conflict that does not clear by itself is a blocker for a person to look
    at, not a reason to ask again every hour for ever.
    """


class InUse(Exception):
    """The service refused because a project that still exists uses the resource.

    Not retried: the step is kept (``OutcomeStatus.KEPT``) with the uses found,
    for the tombstone to wait until nobody alive uses it. The message says who,
    in the planner's words (``kept: in use by live project L (port P on server S)``).
    """

    def __init__(self, message: str, used_by: Sequence[Mapping[str, str]]) -> None:
        super().__init__(message)
        self.used_by = tuple(dict(u) for u in used_by)


class Fatal(Exception):
    """A failure retrying cannot fix (400, 403, ...)."""


class Precheck(str, enum.Enum):
    """The state of a step's resource just before the run, from a batched listing."""

    PRESENT = "present"
    GONE = "gone"
    #: No longer owned by the deleted identity: never touch it.
    OWNER_CHANGED = "owner_changed"
    #: Protected since the plan was made (a keep tag appeared): never touch it.
    PROTECTED = "protected"
    #: Not listed, and its service's listing failed: nothing says whose it is now, so it
    #: does not run (blocked, tried again on the next run).
    UNCHECKED = "unchecked"


@dataclasses.dataclass(frozen=True)
class InUseNow:
    """A re-check's finding: since the plan was made, a live project uses the resource.

    The step does not run; it is kept (``OutcomeStatus.KEPT``) with ``reason``
    (the planner's ``kept: in use by live project L (...)``) and the uses.
    """

    reason: str
    used_by: tuple[Mapping[str, str], ...] = ()


#: What a re-check says of one step's resource.
Checked = Precheck | InUseNow


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """One listing round for one resource type."""

    gone: frozenset[str] = frozenset()
    #: ids in a terminal error state (e.g. ``error_deleting``), with the reason.
    failed: Mapping[str, str] = dataclasses.field(default_factory=dict)


class Runner(Protocol):
    """The executor's only way to the cloud."""

    def precheck(
        self, steps: Sequence[Step], resources: Mapping[ResourceRef, Resource]
    ) -> Mapping[ResourceRef, Checked]:
        """Batched: one listing per type, before anything runs."""

    def run(self, step: Step, resource: Resource | None) -> Attempt:
        """One attempt. Raises Transient, Fatal or anything else (treated as fatal)."""

    def confirm(self, rtype: str, action: str, pending: Mapping[str, Resource]) -> Confirmation:
        """One listing of ``rtype`` covering every id whose ``action`` is pending.

        For removals, ``gone`` means no longer listed; for other asynchronous
        actions (stop), it means the target state was reached.
        """

    def lookup_first(self, step: Step, resource: Resource | None) -> bool:
        """Whether ``step``'s resource is likely gone with a step it depends on.

        Such steps are looked up with :meth:`confirm` (``delete``), batched,
        when they become ready, and only run when still listed: a request
        saved per resource that would only have answered 404.
        """


class Observer(Protocol):
    def step_started(self, step: Step, resource: Resource | None) -> None: ...

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None: ...

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None: ...


class NullObserver:
    def step_started(self, step: Step, resource: Resource | None) -> None:
        pass

    def step_retrying(self, step: Step, attempt: int, error: str, delay: float) -> None:
        pass

    def step_finished(self, step: Step, outcome: Outcome, resource: Resource | None) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Limits:
    """The ``[executor]`` options, as plain values."""

    concurrency: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"compute": 8, "block_storage": 8, "network": 8, "image": 4}
    )
    default_concurrency: int = 4
    retry_attempts: int = 8
    retry_initial_wait: float = 0.5
    retry_max_wait: float = 30.0
    confirm_interval: float = 1.0
    #: The longest gap between two listings of one type while they confirm nothing.
    confirm_max_interval: float = 4.0
    confirm_timeout: float = 600.0
    #: Longest a ready step waits for others of its kind to share its lookup listing.
    lookup_wait: float = 10.0
    #: Attempts, over all runs of a plan, a step may spend on conflicts before it is blocked.
    conflict_retry_budget: int = 40
    #: The longest wait one ``Retry-After`` imposes between a step's attempts.
    retry_after_max: float = 600.0
    #: Removals of a type in progress at once, sent to confirmed (``window.py``); 0: no bound.
    windows: Mapping[str, int] = dataclasses.field(default_factory=lambda: {"compute.server": 0})

    @classmethod
    def from_conf(cls, conf: Any) -> Limits:
        ex = conf.executor
        return cls(
            concurrency={
                "compute": ex.compute_concurrency,
                "block_storage": ex.block_storage_concurrency,
                "network": ex.network_concurrency,
                "image": ex.image_concurrency,
                "identity": ex.identity_concurrency,
            },
            retry_attempts=ex.retry_attempts,
            retry_max_wait=ex.retry_max_wait,
            confirm_interval=ex.confirm_interval,
            confirm_max_interval=max(ex.confirm_interval, ex.confirm_max_interval),
            confirm_timeout=ex.confirm_timeout,
            conflict_retry_budget=ex.conflict_retry_budget,
            retry_after_max=ex.retry_after_max,
            windows={"compute.server": ex.server_delete_window},
        )


@dataclasses.dataclass(frozen=True)
class Report:
    plan_hash: str
    outcomes: Mapping[str, Outcome]
    dry_run: bool
    #: Steps in the plan; fewer outcomes mean the run was stopped early.
    total: int = 0

    @property
    def interrupted(self) -> bool:
        return len(self.outcomes) < self.total

    def counts(self) -> dict[str, int]:
        return dict(collections.Counter(o.status.value for o in self.outcomes.values()))

    @property
    def succeeded(self) -> bool:
        """Every step done or already gone (dry-run: every step would run)."""
        return not self.interrupted and all(
            o.status.successful or (self.dry_run and o.status is OutcomeStatus.SKIPPED)
            for o in self.outcomes.values()
        )

    @property
    def deferred(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status is OutcomeStatus.DEFERRED]


#: Dependency outcomes that let a dependent step run.
SATISFIED = frozenset({OutcomeStatus.DONE, OutcomeStatus.ALREADY_GONE})
DRY_RUN_PREFIX = "dry-run: "
