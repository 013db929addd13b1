"""What the road needs of the configuration, read once into one value.

Every caller (the controller's workers, ``reaper plan``/``apply``, the sweep)
reads ``conf`` once into :class:`Settings` and passes that down; no step of
the road reads an option, and none takes protected ids or limits as loose
keyword arguments. The policy evaluation's context is made from it, so the
rules of the house (protected projects and domains) cannot be forgotten on
one path and applied on another.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from reaper.cleanup.house import AdminProject
from reaper.cleanup.lease import unique_owner
from reaper.executor import Limits
from reaper.model import IdentityRef, utcnow
from reaper.policy import EvaluationContext
from reaper.store.tombstones import DEFAULT_LEASE


@dataclasses.dataclass(frozen=True)
class Settings:
    """The options that decide what the road may do, as plain values."""

    #: Who holds a tombstone's lease while working on it: ``[DEFAULT] host``, the
    #: process id and a random part (:func:`~reaper.cleanup.lease.unique_owner`).
    owner: str = "reaper"
    #: How long a claim's lease lasts unless renewed (the heartbeat renews it at a third).
    lease: dt.timedelta = DEFAULT_LEASE
    #: Resources of these projects are never touched.
    protected_project_ids: frozenset[str] = frozenset()
    #: Identities of these domains are never cleaned up.
    protected_domain_ids: frozenset[str] = frozenset()
    #: The cloud's admin project, always protected: its name and domain (``[DEFAULT]
    #: admin_project_name``, ``admin_project_domain_name``); :func:`reaper.cleanup.house.house`
    #: finds its id.
    admin_project: AdminProject = dataclasses.field(default_factory=AdminProject)
    #: Reaper's own project and the admin project: always protected, whatever the
    #: configuration says. Asked of Keystone by the road before each decision
    #: (:meth:`housed`), never taken from the configuration.
    house_project_ids: frozenset[str] = frozenset()
    #: How fast the executor may act (``[executor]``).
    limits: Limits = dataclasses.field(default_factory=Limits)
    #: Plan and audit, then hold every tombstone for an operator (``[DEFAULT] dry_run``).
    dry_run: bool = False
    #: Ignore sweep candidates younger than this (``[sweep] min_age``).
    sweep_min_age: dt.timedelta = dt.timedelta(0)
    #: A sweep finding more orphaned owners than this is held (``[sweep] max_orphans``; 0: none).
    sweep_max_orphans: int = 0
    #: ... or more than this fraction of Keystone's projects (``max_orphan_fraction``; 0: none).
    sweep_max_orphan_fraction: float = 0.0
    #: How often a sweep also lists every resource of the cloud (``[sweep] full_scan_interval``).
    sweep_full_scan_interval: dt.timedelta = dt.timedelta(days=1)
    #: A run resumed after a stop executes a plan younger than this without discovering
    #: again (``[executor] resume_recheck_after``; 0: always re-check).
    resume_recheck_after: dt.timedelta = dt.timedelta(minutes=5)

    def __post_init__(self) -> None:
        object.__setattr__(self, "protected_project_ids", _ids(self.protected_project_ids))
        object.__setattr__(self, "protected_domain_ids", _ids(self.protected_domain_ids))
        object.__setattr__(self, "house_project_ids", _ids(self.house_project_ids))

    @classmethod
    def from_conf(cls, conf: Any) -> Settings:
        """Read the options once (blank and padded ids are dropped or trimmed)."""
        return cls(
            owner=unique_owner(conf.host),
            protected_project_ids=frozenset(conf.protected_project_ids or ()),
            protected_domain_ids=frozenset(conf.protected_domain_ids or ()),
            admin_project=AdminProject.from_conf(conf),
            limits=Limits.from_conf(conf),
            dry_run=bool(conf.dry_run),
            sweep_min_age=dt.timedelta(seconds=conf.sweep.min_age),
            sweep_max_orphans=conf.sweep.max_orphans,
            sweep_max_orphan_fraction=conf.sweep.max_orphan_fraction,
            sweep_full_scan_interval=dt.timedelta(seconds=conf.sweep.full_scan_interval),
            resume_recheck_after=dt.timedelta(seconds=conf.executor.resume_recheck_after),
        )

    def housed(self, house_project_ids: Iterable[str]) -> Settings:
        """These settings, also protecting reaper's own and the admin project."""
        return dataclasses.replace(self, house_project_ids=frozenset(house_project_ids))

    def context(
        self,
        trigger: str,
        identity: IdentityRef,
        *,
        now: dt.datetime | None = None,
        domain_id: str | None = None,
    ) -> EvaluationContext:
        """The policy evaluation's context, carrying the configured protection."""
        return EvaluationContext(
            trigger=trigger,
            identity=identity,
            now=now or utcnow(),
            protected_project_ids=self.protected_project_ids,
            protected_domain_ids=self.protected_domain_ids,
            house_project_ids=self.house_project_ids,
            domain_id=domain_id,
        )


def _ids(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for v in values or () if v and v.strip())
