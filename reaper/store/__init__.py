"""reaper's state store: tombstones, plans, step outcomes (and the audit chain's tables).

Open it once per process and share it (it is thread-safe; each call runs its
own short transaction)::

    store = Store.from_conf(conf)          # [store] connection, else SQLite in state_path
    store = Store.open("postgresql+psycopg2://reaper@db/reaper")

    store.tombstones.record_trigger(identity, trigger)  # create-or-get, dedupe
    store.tombstones.claim_next(owner=conf.host)         # lease work
    store.plans.save(plan); store.plans.record_outcome(plan_hash, outcome)

Opening migrates the schema to this reaper's version. Every method returns
``reaper.model`` values, never rows, and raises the typed errors of
:mod:`reaper.store.errors`; :class:`StoreUnavailable` is the one to retry.

The audit chain's tables are in this schema, but their repository is
:mod:`reaper.audit.repository`, one floor up: it seals records as it appends
them, which is the audit wing's business, and the store imports nothing of
``reaper.audit``.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

import tenacity

from reaper import log
from reaper.store.database import Database
from reaper.store.directory import DirectoryRepository, Known
from reaper.store.errors import (
    Deadlock,
    NotFound,
    SchemaError,
    StateConflict,
    StepAlreadyFinal,
    StoreError,
    StoreUnavailable,
)
from reaper.store.plans import FINAL_STEP_STATUSES, DeferredStep, PlanRepository
from reaper.store.reclaim import ReclaimRecord, ReclaimRepository
from reaper.store.tombstones import CLAIMABLE, Claim, TombstoneRepository, TriggerResult

if TYPE_CHECKING:
    from oslo_config import cfg

LOG = log.get(__name__)

__all__ = [
    "CLAIMABLE",
    "FINAL_STEP_STATUSES",
    "Claim",
    "Deadlock",
    "DeferredStep",
    "Known",
    "NotFound",
    "ReclaimRecord",
    "SchemaError",
    "StateConflict",
    "StepAlreadyFinal",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TriggerResult",
]


class Store:
    """The repositories over one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tombstones = TombstoneRepository(db)
        self.plans = PlanRepository(db)
        self.directory = DirectoryRepository(db)
        self.reclaim = ReclaimRepository(db)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        connect_timeout: int = 10,
        migrate_schema: bool = True,
        retry_for: float = 0.0,
    ) -> Store:
        """Connect to ``url`` and bring its schema up to date.

        ``retry_for`` keeps trying an unreachable database for that many
        seconds (a controller starting beside its database); the CLI fails
        fast with the default.
        """
        db = Database(url, connect_timeout=connect_timeout)
        if migrate_schema:
            # Imported here: alembic is only needed to open, not to read (the
            # verify workers open no schema).
            from reaper.store import migrate

            try:
                for attempt in tenacity.Retrying(
                    retry=tenacity.retry_if_exception_type(StoreUnavailable),
                    stop=tenacity.stop_after_delay(retry_for),
                    wait=tenacity.wait_exponential(multiplier=0.2, max=5),
                    reraise=True,
                    before_sleep=lambda state: LOG.warning(
                        "store unavailable, retrying",
                        url=db.safe_url,
                        error=str(state.outcome.exception() if state.outcome else ""),
                    ),
                ):
                    with attempt:
                        migrate.upgrade(db)
            except BaseException:
                db.dispose()
                raise
        return cls(db)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts, *, retry_for: float = 0.0) -> Store:
        from reaper import config

        return cls.open(
            config.store_url(conf),
            connect_timeout=conf.store.connect_timeout,
            retry_for=retry_for,
        )

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
