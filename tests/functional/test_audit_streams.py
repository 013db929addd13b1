"""Audit streams (``[audit] streams``): appends side by side, verified as strictly as one chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reaper.audit import export
from reaper.audit.record import AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.audit.verify import ProblemKind
from reaper.store import Store
from tests.functional.audit_fixtures import KEY, append, busy, check, make_trail, rows
from tests.functional.store_fixtures import tamper

pytestmark = pytest.mark.functional


@pytest.fixture(params=["postgresql", "mysql"])
def url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url"}[request.param])
    )


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    opened = Store.open(url)
    yield opened
    opened.close()


def written_in_streams(url: str, trail: AuditTrail) -> None:
    """Records 1-3 in stream 1 (one chain), 4-5 in stream 2, 6-7 in stream 1 again, then 3."""
    append(trail, 3, "one")
    with busy(url, 1):
        append(trail, 2, "two")
    append(trail, 2, "back")
    with busy(url, 1, 2):
        append(trail, 1, "three")


def test_appends_take_a_free_stream_and_the_trail_verifies(store: Store, url: str) -> None:
    trail = make_trail(store, 4)
    written_in_streams(url, trail)
    cp = trail.checkpoint()

    assert rows(url) == [
        (1, None, None),
        (2, None, None),
        (3, None, None),
        (4, 2, 1),
        (5, 2, 2),
        (6, 1, 4),
        (7, 1, 5),
        (8, 3, 1),
    ]
    assert [list(s)[:3] for s in json.loads(cp.body)["streams"]] == [
        [1, 5, 7],
        [2, 2, 5],
        [3, 1, 8],
    ]
    report = check(store)
    assert report.ok, report.problems
    assert (report.records, report.signatures_verified) == (8, 1)
    for workers in (0, 2):
        assert check(store, workers=workers, chunk=3).ok


def test_one_process_alone_writes_one_chain_as_before(store: Store, url: str) -> None:
    trail = make_trail(store, 8)
    append(trail, 5, "alone")
    cp = trail.checkpoint()

    assert rows(url) == [(i, None, None) for i in range(1, 6)]
    assert "streams" not in json.loads(cp.body)
    assert check(store).ok


def test_an_upgraded_single_chain_trail_goes_on_in_streams(store: Store, url: str) -> None:
    append(make_trail(store, 1), 4, "before")
    make_trail(store, 1).checkpoint()
    written_in_streams(url, make_trail(store, 4))
    append(make_trail(store, 1), 2, "k1-again")

    report = check(store)
    assert report.ok, report.problems
    assert report.records == 14


def test_an_incremental_verify_starts_from_the_checkpoint(store: Store, url: str) -> None:
    trail = make_trail(store, 4)
    written_in_streams(url, trail)
    cp = trail.checkpoint()
    written_in_streams(url, trail)

    report = check(store, from_seq=cp.seq + 1)
    assert report.ok, report.problems
    assert report.from_checkpoint == cp.number
    assert not any("on trust" in w for w in report.warnings)
    assert report.records == 8


def test_a_record_removed_from_one_stream_is_reported(store: Store, url: str) -> None:
    written_in_streams(url, make_trail(store, 4))
    tamper(url, "DELETE FROM audit_records WHERE seq = 4")

    report = check(store)
    # The first record of stream 2 is gone: the one after it is where the gap shows.
    assert report.first_bad_seq == 5
    assert [p.kind for p in report.problems] == [ProblemKind.MISSING]
    assert "position 1 of stream 2" in report.problems[0].message

    tamper(url, "DELETE FROM audit_records WHERE seq = 6")
    report = check(store)
    # Stream 1's position 4 is gone: it came after seq 3, the stream's record before it.
    assert [(p.seq, p.kind) for p in report.problems] == [
        (5, ProblemKind.MISSING),
        (4, ProblemKind.MISSING),
    ]


def test_a_stream_head_rolled_back_is_caught_by_the_checkpoint(store: Store, url: str) -> None:
    trail = make_trail(store, 4)
    written_in_streams(url, trail)
    trail.checkpoint()
    kept = next(iter(AuditRepository(store.db).records(4, 4)))
    tamper(
        url,
        "DELETE FROM audit_records WHERE seq = 5",
        "UPDATE audit_chain_head SET seq = 4, pos = 1, head = :head WHERE id = 2",
        params={"head": kept.head},
    )

    report = check(store)
    assert not report.ok
    assert report.first_bad_seq == 5
    assert any(p.kind is ProblemKind.CHECKPOINT and p.checkpoint == 1 for p in report.problems)


def test_a_dropped_stream_is_caught_by_the_checkpoint(store: Store, url: str) -> None:
    trail = make_trail(store, 4)
    written_in_streams(url, trail)
    trail.checkpoint()
    tamper(
        url,
        "DELETE FROM audit_records WHERE stream = 2",
        "UPDATE audit_chain_head SET seq = 0, pos = 0 WHERE id = 2",
    )

    report = check(store)
    assert [(p.kind, p.checkpoint) for p in report.problems] == [(ProblemKind.CHECKPOINT, 1)]
    assert "stream 2 at position 2" in report.problems[0].message


def test_records_swapped_between_streams_are_reported(store: Store, url: str) -> None:
    written_in_streams(url, make_trail(store, 4))
    # Record 5 (stream 2) and record 6 (stream 1) trade streams and positions.
    tamper(
        url,
        "UPDATE audit_records SET stream = 1, pos = 4 WHERE seq = 5",
        "UPDATE audit_records SET stream = 2, pos = 2 WHERE seq = 6",
    )

    report = check(store)
    assert report.first_bad_seq == 5
    assert [p.kind for p in report.problems][:2] == [ProblemKind.LINK, ProblemKind.LINK]


def test_a_record_added_to_a_new_stream_is_reported(store: Store, url: str) -> None:
    trail = make_trail(store, 4)
    written_in_streams(url, trail)
    trail.checkpoint()
    tamper(
        url,
        "INSERT INTO audit_records (seq, recorded_at, action, outcome, target_type, target_id,"
        " tombstone_id, plan_hash, body, record_hash, prev_head, head, stream, pos)"
        " SELECT 100, recorded_at, action, outcome, target_type, target_id, tombstone_id,"
        " plan_hash, body, record_hash, prev_head, head, 9, 1 FROM audit_records WHERE seq = 8",
    )

    report = check(store)
    assert [p.kind for p in report.problems] == [ProblemKind.CHAIN_HEAD]


def test_a_bundle_of_a_trail_in_streams_verifies_offline(
    store: Store, url: str, tmp_path: Path
) -> None:
    trail = make_trail(store, 4)
    written_in_streams(url, trail)
    trail.checkpoint()
    out = tmp_path / "bundle"
    export.export_bundle(AuditRepository(store.db), str(out), public_key=KEY.public_key)

    report = export.verify_bundle(str(out), public_key=KEY.public_key)
    assert report.ok, report.problems
    lines = (out / export.RECORDS).read_text().splitlines()
    assert [json.loads(line).get("stream") for line in lines] == [None] * 3 + [2, 2, 1, 1, 3]

    tampered = [line for i, line in enumerate(lines) if i != 4]
    (out / export.RECORDS).write_text("\n".join(tampered) + "\n")
    assert not export.verify_bundle(str(out), public_key=KEY.public_key).ok


def test_a_stream_started_meanwhile_never_gets_the_seq_stream_1_takes(
    store: Store, url: str
) -> None:
    # Stream 1 is one chain (seqs follow its head) until another stream has a
    # committed record; a writer starting stream 2 may hold seq 3 uncommitted
    # meanwhile, so stream 1 must take the seq it drew (once: a duplicate key).
    trail = make_trail(store, 4)
    append(trail, 2, "one")
    with store.db.write("hold the first record of stream 2") as conn:
        with busy(url, 1):
            draft = trail.draft(action="delete", outcome="success", target=AuditTarget("x.y", "b"))
            [started] = trail.append_many([draft], conn=conn)
        [after] = [trail.append(action="delete", outcome="success", target=AuditTarget("x.y", "a"))]
    assert (started.seq, started.stream) == (3, 2)
    assert after.seq > 3

    report = check(store)
    assert report.ok, report.problems
