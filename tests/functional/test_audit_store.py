"""The audit chain in the database: appends, queries, and tampering caught by verify."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from reaper.audit import chain
from reaper.audit.parallel import verify_store
from reaper.audit.record import Actor, AuditAction, AuditOutcome, AuditReason, AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.audit.verify import ProblemKind, VerifyReport
from reaper.model import Resource
from reaper.store import Store
from tests.functional.store_fixtures import raw_engine, tamper
from tests.unit.audit.helpers import signer

pytestmark = pytest.mark.functional

KEY = signer()


@pytest.fixture
def trail(store: Store) -> AuditTrail:
    return AuditTrail(
        store,
        initiator=Actor.service_user(name="reaper"),
        observer=Actor.instance("test-host"),
        signer=KEY,
    )


def fill(trail: AuditTrail, n: int, *, tombstone: str = "tomb-1") -> None:
    with trail.batch() as batch:
        for i in range(n):
            batch.append(
                action=AuditAction.DELETE,
                outcome=AuditOutcome.SUCCESS,
                target=AuditTarget("compute.server", f"srv-{i}", project_id="p1"),
                reason=AuditReason.policy_match("default", "orphans", "owner deleted"),
                tombstone_id=tombstone,
            )


def check(store: Store, **kwargs: object) -> VerifyReport:
    return verify_store(AuditRepository(store.db), public_key=KEY.public_key, **kwargs)  # type: ignore[arg-type]


# -- appending ---------------------------------------------------------------


def test_appends_are_numbered_in_order_and_verify(trail: AuditTrail, store: Store) -> None:
    server = Resource("compute.server", "srv-1", name="web", project_id="p1", status="ACTIVE")
    first = trail.append(
        action=AuditAction.DELETE,
        outcome=AuditOutcome.SUCCESS,
        target=AuditTarget.for_resource(server),
        before=server,
        tombstone_id="tomb-1",
        plan_hash="ab" * 32,
    )
    fill(trail, 3)

    assert first.seq == 1
    assert AuditRepository(store.db).head().seq == 4
    report = check(store)
    assert report.ok, report.problems
    assert (report.records, report.last_seq) == (4, 4)


def test_a_batch_that_raises_appends_nothing(trail: AuditTrail, store: Store) -> None:
    with pytest.raises(RuntimeError), trail.batch() as batch:
        batch.append(action="delete", outcome="success", target=AuditTarget("x.y", "1"))
        raise RuntimeError("the step blew up")

    assert AuditRepository(store.db).head().seq == 0


def test_records_are_found_by_tombstone_resource_and_time(trail: AuditTrail, store: Store) -> None:
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    for i, tomb in enumerate(["a", "b", "a"]):
        trail.append(
            action="delete",
            outcome="success",
            target=AuditTarget("compute.server", f"srv-{i}"),
            tombstone_id=tomb,
            event_time=t0 + dt.timedelta(hours=i),
        )

    assert [r.seq for r in AuditRepository(store.db).find(tombstone_id="a")] == [1, 3]
    assert [r.seq for r in AuditRepository(store.db).find(target_id="srv-1")] == [2]
    assert [r.seq for r in AuditRepository(store.db).find(since=t0 + dt.timedelta(minutes=30))] == [
        2,
        3,
    ]
    assert [r.seq for r in AuditRepository(store.db).find(limit=2)] == [1, 2]


def test_records_are_read_back_in_chunks(trail: AuditTrail, store: Store) -> None:
    fill(trail, 25)

    assert [r.seq for r in AuditRepository(store.db).records(3, 21, chunk=4)] == list(range(3, 22))


# -- append-only ---------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET outcome = 'failure' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 1",
        "UPDATE audit_checkpoints SET reason = 'x'",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_the_database_refuses_to_change_or_remove_audit_rows(
    trail: AuditTrail, store_url: str, statement: str
) -> None:
    fill(trail, 2)
    trail.checkpoint()
    engine = raw_engine(store_url)
    try:
        with engine.connect() as conn, pytest.raises(sa_exc.DatabaseError, match="append-only"):
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_postgresql_refuses_to_truncate_the_audit_trail(trail: AuditTrail, pg_url: str) -> None:
    engine = raw_engine(pg_url)
    try:
        with engine.connect() as conn, pytest.raises(sa_exc.DatabaseError, match="append-only"):
            conn.execute(text("TRUNCATE audit_records"))
    finally:
        engine.dispose()


# -- tampering ---------------------------------------------------------------


def first_problem(report: VerifyReport) -> tuple[int | None, ProblemKind | None]:
    problem = report.first_problem
    return report.first_bad_seq, (problem.kind if problem else None)


def test_an_edited_record_is_reported_at_its_seq(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 10)
    tamper(
        store_url,
        "UPDATE audit_records SET body = replace(body, 'srv-4', 'srv-X') WHERE seq = 5",
    )

    assert first_problem(check(store)) == (5, ProblemKind.EDITED)


def test_a_deleted_record_is_reported_at_its_seq(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 10)
    tamper(store_url, "DELETE FROM audit_records WHERE seq = 7")

    assert first_problem(check(store)) == (7, ProblemKind.MISSING)


def test_swapped_records_are_reported_at_the_first(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 10)
    tamper(
        store_url,
        "UPDATE audit_records SET seq = -3 WHERE seq = 3",
        "UPDATE audit_records SET seq = 3 WHERE seq = 4",
        "UPDATE audit_records SET seq = 4 WHERE seq = -3",
    )

    assert first_problem(check(store)) == (3, ProblemKind.MOVED)


def test_an_inserted_record_is_reported_at_its_seq(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    """The forger renumbers everything after it and links the forgery correctly."""
    fill(trail, 10)
    forged_body = (
        next(iter(AuditRepository(store.db).records(4, 4)))
        .body.replace("srv-3", "forged")
        .replace('"seq":4', '"seq":5')
    )
    prev = next(iter(AuditRepository(store.db).records(4, 4)))
    rh = chain.record_hash(forged_body)
    head = chain.next_head(prev.head, rh)
    tamper(
        store_url,
        "UPDATE audit_records SET seq = -seq WHERE seq >= 5",
        "UPDATE audit_records SET seq = 1 - seq WHERE seq < 0",
        "INSERT INTO audit_records (seq, recorded_at, action, outcome, target_type, target_id,"
        " tombstone_id, plan_hash, body, record_hash, prev_head, head)"
        " SELECT 5, recorded_at, action, outcome, target_type, 'forged', tombstone_id,"
        " plan_hash, :body, :rh, :prev, :head FROM audit_records WHERE seq = 4",
        params={"body": forged_body, "rh": rh, "prev": prev.head, "head": head},
    )

    report = check(store)

    assert report.first_bad_seq == 5
    assert report.first_problem is not None
    assert "record 5 was inserted" in report.first_problem.message


def test_an_edited_query_column_is_reported(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 5)
    tamper(store_url, "UPDATE audit_records SET tombstone_id = 'elsewhere' WHERE seq = 2")

    assert first_problem(check(store)) == (2, ProblemKind.INDEX)


@pytest.mark.parametrize("workers", [0, 2])
def test_record_times_are_read_as_text_on_every_database(
    trail: AuditTrail, store: Store, store_url: str, workers: int
) -> None:
    # Verify reads recorded_at as text in SQL (repository.scan): a whole second
    # must keep its six digits, and an edited time is still an edited column.
    whole = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    for when in (whole, whole.replace(microsecond=7)):
        trail.append(
            action="delete", outcome="success", target=AuditTarget("x.y", "1"), event_time=when
        )
    assert check(store, workers=workers, chunk=1).ok
    edit = "UPDATE audit_records SET recorded_at = recorded_at - interval '1' hour WHERE seq = 2"
    if "sqlite" in store_url:
        edit = "UPDATE audit_records SET recorded_at = '2026-01-02 02:04:05.000007' WHERE seq = 2"
    tamper(store_url, edit)

    assert first_problem(check(store, workers=workers, chunk=1)) == (2, ProblemKind.INDEX)


def test_a_cut_tail_is_reported_against_the_chain_head(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 10)
    tamper(store_url, "DELETE FROM audit_records WHERE seq > 8")

    assert first_problem(check(store)) == (9, ProblemKind.MISSING)


def test_a_cut_tail_with_a_rewound_head_is_caught_by_the_checkpoint(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 10)
    trail.checkpoint()
    last_kept = next(iter(AuditRepository(store.db).records(8, 8)))
    tamper(
        store_url,
        "DELETE FROM audit_records WHERE seq > 8",
        "UPDATE audit_chain_head SET seq = 8, head = :head",
        params={"head": last_kept.head},
    )

    report = check(store)

    assert report.first_bad_seq == 9
    assert any(p.kind is ProblemKind.MISSING and p.checkpoint == 1 for p in report.problems)


def test_a_rewritten_chain_is_caught_by_its_signed_checkpoint(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 6)
    trail.checkpoint()
    records = list(AuditRepository(store.db).records())
    prev = records[2].head
    for rec in records[3:]:
        body = rec.body.replace("owner deleted", "routine cleanup")
        rh = chain.record_hash(body)
        head = chain.next_head(prev, rh)
        tamper(
            store_url,
            "UPDATE audit_records SET body = :body, record_hash = :rh, prev_head = :prev,"
            " head = :head WHERE seq = :seq",
            params={"body": body, "rh": rh, "prev": prev, "head": head, "seq": rec.seq},
        )
        prev = head
    tamper(store_url, "UPDATE audit_chain_head SET head = :head", params={"head": prev})

    report = check(store)

    assert report.first_bad_seq == 1
    assert report.problems[0].kind is ProblemKind.CHECKPOINT
    assert "records 1 to 6 were rewritten" in report.problems[0].message


def test_a_forged_checkpoint_signature_is_reported(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 3)
    cp = trail.checkpoint()
    tamper(
        store_url,
        "UPDATE audit_checkpoints SET signature = :sig WHERE number = :n",
        params={"sig": signer().sign(cp.body.encode()), "n": cp.number},
    )

    report = check(store)

    assert not report.ok
    assert [(p.kind, p.checkpoint) for p in report.problems] == [(ProblemKind.SIGNATURE, 1)]


def test_a_deleted_checkpoint_is_reported(trail: AuditTrail, store: Store, store_url: str) -> None:
    for _ in range(3):
        fill(trail, 2)
        trail.checkpoint()
    tamper(store_url, "DELETE FROM audit_checkpoints WHERE number = 2")

    report = check(store)

    assert [(p.kind, p.checkpoint) for p in report.problems] == [(ProblemKind.CHECKPOINT_CHAIN, 3)]


# -- checkpoints ---------------------------------------------------------------


def test_checkpoints_are_numbered_signed_and_chained(trail: AuditTrail, store: Store) -> None:
    empty = trail.checkpoint("start")
    fill(trail, 4)
    closing = trail.end_tombstone("tomb-1")

    assert (empty.number, empty.seq, empty.head) == (1, 0, "0" * 64)
    assert (closing.number, closing.seq) == (2, 4)
    assert closing.head == AuditRepository(store.db).head().head
    assert (closing.reason, closing.tombstone_id) == ("tombstone", "tomb-1")
    assert closing.payload()["prev"] == empty.digest
    assert closing.key_id == KEY.key_id and closing.signed
    assert [c.number for c in AuditRepository(store.db).checkpoints()] == [1, 2]
    assert AuditRepository(store.db).latest_checkpoint() == closing
    report = check(store)
    assert report.ok and report.signatures_verified == 2


def test_without_a_key_checkpoints_are_unsigned_and_verify_warns(store: Store) -> None:
    unsigned = AuditTrail(
        store, initiator=Actor.service_user(), observer=Actor.instance("h"), signer=None
    )
    unsigned.append(action="read", outcome="success", target=AuditTarget("identity.project", "p"))
    cp = unsigned.checkpoint()

    report = check(store)

    assert not cp.signed and cp.key_id is None
    assert report.ok
    assert "1 checkpoint(s) are unsigned" in report.warnings
    assert not check(store, require_signed=True).ok


def test_a_partial_range_is_verified_from_the_head_before_it(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 20)
    tamper(store_url, "UPDATE audit_records SET body = body || ' ' WHERE seq = 3")

    assert check(store, from_seq=5, to_seq=15).ok
    assert check(store, from_seq=1, to_seq=4).first_bad_seq == 3


# -- parallel verification -----------------------------------------------------


@pytest.mark.parametrize("workers", [0, 2])
def test_worker_processes_reach_the_same_verdict(
    trail: AuditTrail, store: Store, store_url: str, workers: int
) -> None:
    fill(trail, 30)
    trail.checkpoint()
    fill(trail, 30)
    tamper(
        store_url,
        "UPDATE audit_records SET body = replace(body, 'srv-4', 'srv-X') WHERE seq = 35",
        "DELETE FROM audit_records WHERE seq = 12",
    )

    report = check(store, workers=workers, chunk=7)

    assert report.first_bad_seq == 12
    assert [(p.seq, p.kind) for p in report.problems] == [
        (12, ProblemKind.MISSING),
        (35, ProblemKind.EDITED),
    ]
    assert report.signatures_verified == 1


def test_a_record_written_beyond_the_chain_head_is_reported(
    trail: AuditTrail, store: Store, store_url: str
) -> None:
    fill(trail, 4)
    tamper(
        store_url,
        "INSERT INTO audit_records (seq, recorded_at, action, outcome, target_type, target_id,"
        " tombstone_id, plan_hash, body, record_hash, prev_head, head)"
        " SELECT 5, recorded_at, action, outcome, target_type, target_id, tombstone_id,"
        " plan_hash, body, record_hash, prev_head, head FROM audit_records WHERE seq = 4",
    )

    report = check(store)

    assert report.first_bad_seq == 5
    assert report.problems[0].kind is ProblemKind.CHAIN_HEAD
