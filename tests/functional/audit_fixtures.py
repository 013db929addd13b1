"""What the audit trail's database tests share: a trail, held streams, a verification.

One place for the helpers of ``test_audit_streams`` and ``test_audit_pgappend``
(each test module stays a specification of its own behaviour; neither imports
the other).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import text

from reaper.audit.keys import Signer
from reaper.audit.parallel import verify_store
from reaper.audit.record import Actor, AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.audit.verify import VerifyReport
from reaper.store import Store
from tests.functional.store_fixtures import raw_engine
from tests.unit.audit.helpers import signer

#: The key the trails are signed with and verified against.
KEY = signer()


def make_trail(store: Store, streams: int, *, signed_by: Signer | None = KEY) -> AuditTrail:
    return AuditTrail(
        store,
        initiator=Actor.service_user(name="reaper"),
        observer=Actor.instance("test-host"),
        signer=signed_by,
        streams=streams,
    )


def append(trail: AuditTrail, n: int, label: str) -> None:
    """``n`` records, targets ``label-0`` .. ``label-{n-1}``."""
    for i in range(n):
        trail.append(action="delete", outcome="success", target=AuditTarget("x.y", f"{label}-{i}"))


@contextlib.contextmanager
def busy(url: str, *streams: int) -> Iterator[None]:
    """Hold the rows of ``streams`` in an open transaction: appends must take others."""
    engine = raw_engine(url)
    with engine.connect() as conn:
        conn.execute(text("BEGIN"))
        for stream in streams:
            conn.execute(
                text("SELECT seq FROM audit_chain_head WHERE id = :id FOR UPDATE"), {"id": stream}
            )
        try:
            yield
        finally:
            conn.execute(text("ROLLBACK"))
    engine.dispose()


def check(store: Store, **kwargs: object) -> VerifyReport:
    return verify_store(AuditRepository(store.db), public_key=KEY.public_key, **kwargs)  # type: ignore[arg-type]


def rows(url: str) -> list[tuple[int, int | None, int | None]]:
    """``(seq, stream, pos)`` of every record, in order."""
    engine = raw_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT seq, stream, pos FROM audit_records ORDER BY seq")).all()
    engine.dispose()
    return [tuple(r) for r in found]  # type: ignore[misc]
