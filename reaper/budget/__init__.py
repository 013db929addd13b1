"""One budget of requests per process, shared by every worker: caps, pauses, limits.

``[executor] *_concurrency`` used to bound each plan's steps: four workers
with a compute cap of 8 sent 32 requests to Nova at once, times the number
of controllers, and nothing slowed down when a service answered 429. Now
the cap is the process's (:class:`~reaper.budget.budget.Budget`, taken per
request in the guarded session, so discovery, steps, confirmations and
reads all count), a 429/503 pauses and slows the service for the whole
process (:mod:`~reaper.budget.pace`), and on PostgreSQL or MariaDB the cap
is the cloud's, shared by every controller (:mod:`~reaper.budget.shared`,
slots leased from the store).

:func:`for_process` gives every connection of a process the same budget:
the controller's connection, Keystone's gate and ``reaper apply``'s share
one set of caps.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from reaper.budget.budget import THROTTLED, Budget, Shared
from reaper.budget.pace import Pace, PaceRules, Throttle
from reaper.budget.services import Endpoints, name_of
from reaper.budget.shared import SharedSlots

__all__ = [
    "DEFAULT_CAPS",
    "THROTTLED",
    "Budget",
    "BudgetSettings",
    "Endpoints",
    "Pace",
    "PaceRules",
    "Shared",
    "SharedSlots",
    "Throttle",
    "for_process",
    "forget_process_budgets",
    "name_of",
]

#: The executor's defaults, for connections made without a configuration.
DEFAULT_CAPS: Mapping[str, int] = {
    "compute": 8,
    "block_storage": 8,
    "network": 8,
    "image": 4,
    "identity": 4,
}


@dataclasses.dataclass(frozen=True)
class BudgetSettings:
    """The ``[executor]`` options the budget reads, as one hashable value."""

    caps: tuple[tuple[str, int], ...] = tuple(sorted(DEFAULT_CAPS.items()))
    default_cap: int = 4
    rules: PaceRules = dataclasses.field(default_factory=PaceRules)
    #: Share the caps with every controller of a PostgreSQL or MariaDB store.
    shared: bool = True
    #: Seconds a controller's cloud-wide slots stay its own without renewal.
    lease: float = 30.0

    @classmethod
    def from_conf(cls, conf: Any) -> BudgetSettings:
        ex = conf.executor
        caps = {
            "compute": ex.compute_concurrency,
            "block_storage": ex.block_storage_concurrency,
            "network": ex.network_concurrency,
            "image": ex.image_concurrency,
            "identity": ex.identity_concurrency,
        }
        return cls(
            caps=tuple(sorted(caps.items())),
            rules=PaceRules(
                retry_after_max=ex.retry_after_max,
                default_pause=ex.throttle_pause,
                recover_after=ex.throttle_recover_after,
            ),
            shared=ex.shared_concurrency,
            lease=ex.concurrency_lease,
        )


_LOCK = threading.Lock()
_BUDGETS: dict[BudgetSettings, Budget] = {}


def for_process(settings: BudgetSettings | None = None) -> Budget:
    """The process's budget for these settings: the same object for every caller."""
    settings = settings or BudgetSettings()
    with _LOCK:
        budget = _BUDGETS.get(settings)
        if budget is None:
            budget = _BUDGETS[settings] = Budget(
                dict(settings.caps), default_cap=settings.default_cap, rules=settings.rules
            )
        return budget


def forget_process_budgets() -> None:
    """Start again with no budget, as a new process does.

    For harnesses that run several ``reaper`` commands in one process (the
    functional tests): without this, a command inherits the pauses and lowered
    limits that an earlier command's 429/503 answers left, which its own
    process would never see.
    """
    with _LOCK:
        _BUDGETS.clear()
