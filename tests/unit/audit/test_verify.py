"""verify finds any single edit, deletion, swap or insertion, at its seq.

The trail is modelled as the list of rows a store or bundle would hand the
verifier; each tamper is what someone with write access to those rows
could do without reaper's signing key.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reaper.audit.chain import ChainHead, ChainRecord
from reaper.audit.columns import RecordIndex
from reaper.audit.verify import ProblemKind, Verifier, VerifyReport
from tests.unit.audit.helpers import (
    checkpoints_at,
    edit_body,
    forged_after,
    make_chain,
    reseal_from,
    signer,
    tip,
)

MAX = 12
#: Building the chains costs more than verifying them: build each length once.
CHAINS = {n: make_chain(n) for n in range(1, MAX + 1)}


def verify(records: list[ChainRecord], head: ChainHead, **kwargs: object) -> VerifyReport:
    return Verifier(**kwargs).run(records, chain_head=head)  # type: ignore[arg-type]


@st.composite
def chain_and_position(draw: st.DrawFn, min_size: int = 1) -> tuple[list[ChainRecord], int]:
    n = draw(st.integers(min_size, MAX))
    return list(CHAINS[n]), draw(st.integers(1, n))


def test_an_untouched_chain_verifies() -> None:
    records = CHAINS[MAX]
    report = verify(records, tip(records))

    assert report.ok
    assert (report.records, report.first_seq, report.last_seq) == (MAX, 1, MAX)
    assert report.head == records[-1].head
    assert report.first_bad_seq is None


def test_an_empty_chain_verifies() -> None:
    assert verify([], ChainHead()).ok


# -- edits -----------------------------------------------------------------

EDITS: dict[str, Callable[[dict], None]] = {
    "outcome": lambda b: b.update(outcome="failure"),
    "target": lambda b: b["target"].update(id="someone-else"),
    "reason": lambda b: b["reason"].update(reasonCode="nothing to see"),
    "added field": lambda b: b["reaper"].update(note="added later"),
    "removed field": lambda b: b.pop("reason"),
    "time": lambda b: b.update(eventTime="2020-01-01T00:00:00.000000+0000"),
}


@given(chain_and_position(), st.sampled_from(sorted(EDITS)))
def test_an_edited_record_is_reported_at_its_seq(
    case: tuple[list[ChainRecord], int], edit: str
) -> None:
    records, k = case
    original = tip(records)
    records[k - 1] = edit_body(records[k - 1], EDITS[edit])

    report = verify(records, original)

    assert report.first_bad_seq == k
    assert report.first_problem is not None
    assert report.first_problem.kind is ProblemKind.EDITED


@given(chain_and_position(), st.integers(0, 10_000))
def test_a_corrupted_byte_is_reported_at_its_seq(
    case: tuple[list[ChainRecord], int], where: int
) -> None:
    records, k = case
    original = tip(records)
    body = records[k - 1].body
    i = where % len(body)
    flipped = body[:i] + ("X" if body[i] != "X" else "Y") + body[i + 1 :]
    records[k - 1] = records[k - 1]._replace(body=flipped)

    assert verify(records, original).first_bad_seq == k


@given(chain_and_position())
def test_an_edit_with_recomputed_digests_breaks_the_link_to_the_next_record(
    case: tuple[list[ChainRecord], int],
) -> None:
    records, k = case
    original = tip(records)
    # The reason is not a query column, so only the chain can tell.
    records[k - 1] = edit_body(records[k - 1], EDITS["reason"])
    records = records[: k - 1] + reseal_from(records, k - 1)[k - 1 : k] + records[k:]

    report = verify(records, original)

    # The edited record is self-consistent; the next one (or the chain head,
    # for the last record) no longer agrees with it.
    assert report.first_bad_seq == (k + 1 if k < len(records) else k)
    assert not report.ok


# -- deletions -------------------------------------------------------------


@given(chain_and_position())
def test_a_deleted_record_is_reported_at_its_seq(case: tuple[list[ChainRecord], int]) -> None:
    records, k = case
    original = tip(records)
    del records[k - 1]

    report = verify(records, original)

    assert report.first_bad_seq == k
    assert report.first_problem is not None
    assert report.first_problem.kind is ProblemKind.MISSING


def test_deleting_a_run_of_records_names_the_whole_run() -> None:
    records = list(CHAINS[10])
    original = tip(records)
    del records[3:6]

    report = verify(records, original)

    assert report.first_bad_seq == 4
    assert "records 4 to 6 are missing" in report.problems[0].message


# -- reordering ------------------------------------------------------------


@given(chain_and_position(min_size=2))
def test_two_records_swapped_in_place_are_reported_at_the_first(
    case: tuple[list[ChainRecord], int],
) -> None:
    records, k = case
    k = min(k, len(records) - 1)
    original = tip(records)
    records[k - 1], records[k] = records[k], records[k - 1]

    assert verify(records, original).first_bad_seq == k


@given(chain_and_position(min_size=2))
def test_two_records_swapping_their_seqs_are_reported_at_the_first(
    case: tuple[list[ChainRecord], int],
) -> None:
    """A database row keeps its position (seq is the key); the contents move."""
    records, k = case
    k = min(k, len(records) - 1)
    original = tip(records)
    a, b = records[k - 1], records[k]
    records[k - 1] = b._replace(seq=a.seq)
    records[k] = a._replace(seq=b.seq)

    report = verify(records, original)

    assert report.first_bad_seq == k
    assert report.first_problem is not None
    assert report.first_problem.kind is ProblemKind.MOVED


# -- insertions ------------------------------------------------------------


@given(chain_and_position())
def test_a_forged_record_inserted_under_an_existing_seq_is_reported_there(
    case: tuple[list[ChainRecord], int],
) -> None:
    records, k = case
    original = tip(records)
    records.insert(k - 1, forged_after(records, k))

    assert verify(records, original).first_bad_seq == k


@given(chain_and_position())
def test_a_forged_record_inserted_with_the_rest_renumbered_is_reported_at_its_seq(
    case: tuple[list[ChainRecord], int],
) -> None:
    records, k = case
    original = tip(records)
    forged = forged_after(records, k)
    shifted = [r._replace(seq=r.seq + 1) for r in records[k - 1 :]]
    records = [*records[: k - 1], forged, *shifted]

    report = verify(records, original)

    assert report.first_bad_seq == k
    assert report.first_problem is not None
    assert "inserted" in report.first_problem.message


def test_a_forged_record_appended_after_the_head_is_reported() -> None:
    records = list(CHAINS[5])
    original = tip(records)
    records.append(forged_after(records, 6))

    report = verify(records, original)

    assert report.first_bad_seq == 6
    assert report.first_problem is not None
    assert report.first_problem.kind is ProblemKind.CHAIN_HEAD


# -- the head and the columns ----------------------------------------------


def test_a_truncated_tail_is_reported_against_the_chain_head() -> None:
    records = list(CHAINS[8])
    original = tip(records)

    report = verify(records[:5], original)

    assert report.first_bad_seq == 6
    assert "the last records were removed" in report.problems[0].message


def test_a_truncated_tail_with_a_rewound_head_passes_without_checkpoints() -> None:
    """Why checkpoints exist: the chain alone cannot see its own end cut off."""
    records = list(CHAINS[8])[:5]

    report = verify(records, tip(records))

    assert report.ok
    assert any("no checkpoints" in w for w in report.warnings)


def test_an_edited_query_column_is_reported() -> None:
    records = list(CHAINS[6])
    original = tip(records)
    index = records[3].columns
    assert index is not None
    records[3] = records[3]._replace(columns=index._replace(tombstone_id="another-tombstone"))

    report = verify(records, original)

    assert report.first_bad_seq == 4
    assert report.problems[0].kind is ProblemKind.INDEX
    assert "tombstone_id" in report.problems[0].message


def test_records_without_columns_skip_the_column_check() -> None:
    records = [r._replace(columns=None) for r in CHAINS[4]]

    assert verify(records, tip(records)).ok


def test_a_body_that_is_not_a_record_is_malformed() -> None:
    records = list(CHAINS[3])
    original = tip(records)
    records[1] = records[1]._replace(body="not json")

    report = verify(records, original)

    assert report.first_bad_seq == 2
    assert report.problems[0].kind is ProblemKind.MALFORMED


# -- ranges and reporting --------------------------------------------------


def test_a_range_starts_from_the_head_before_it_on_trust() -> None:
    records = CHAINS[10]

    report = Verifier().run(records[4:8], start_seq=5, end_seq=8)

    assert report.ok
    assert (report.first_seq, report.last_seq) == (5, 8)
    assert any("taken on trust" in w for w in report.warnings)


def test_a_range_reports_records_missing_at_its_end() -> None:
    records = CHAINS[10]

    report = Verifier().run(records[4:6], start_seq=5, end_seq=8)

    assert report.first_bad_seq == 7


def test_one_change_does_not_make_every_later_record_a_problem() -> None:
    records = list(CHAINS[MAX])
    original = tip(records)
    records[2] = edit_body(records[2], EDITS["outcome"])

    assert verify(records, original).problem_count == 1


@settings(max_examples=20)
@given(st.integers(1, 5))
def test_problems_beyond_the_cap_are_counted_not_kept(cap: int) -> None:
    records = [edit_body(r, EDITS["outcome"]) for r in CHAINS[MAX]]

    report = verify(records, tip(list(CHAINS[MAX])), max_problems=cap)

    assert len(report.problems) == cap
    assert report.problem_count == MAX
    assert report.first_bad_seq == 1


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_problem_says_where_and_why(edit: str) -> None:
    records = list(CHAINS[4])
    original = tip(records)
    records[1] = edit_body(records[1], EDITS[edit])

    problem = verify(records, original).problems[0]

    assert str(problem).startswith("seq 2: ")
    assert problem.message


def test_index_equality_covers_every_column() -> None:
    """A new column added to RecordIndex is compared too (dataclass equality)."""
    assert set(RecordIndex._fields) >= {
        "recorded_at",
        "action",
        "outcome",
        "target_id",
        "tombstone_id",
        "plan_hash",
    }
    assert json.loads(CHAINS[1][0].body)["reaper"]["seq"] == 1


# -- a pruned trail: verified from the signed checkpoint it starts at --------


def test_a_pruned_trail_follows_the_head_of_its_anchor_checkpoint() -> None:
    records = CHAINS[10]
    key = signer()
    cps = checkpoints_at(records, [4, 10], key)

    report = Verifier(public_key=key.public_key).run(
        records[4:], cps[:], start_seq=5, chain_head=tip(records), anchor=cps[0]
    )

    assert report.ok, report.problems
    assert report.from_checkpoint == 1
    assert report.signatures_verified == 2
    assert not any("on trust" in w for w in report.warnings)


def test_a_pruned_trail_whose_first_record_does_not_follow_its_anchor_is_a_problem() -> None:
    records = CHAINS[10]
    key = signer()
    anchor = checkpoints_at(records, [4], key)[0]
    # Records 5.. of another chain: the store's first record was replaced, hashes and all.
    forged = make_chain(6, head=ChainHead(4, "ab" * 32))

    report = Verifier(public_key=key.public_key).run(
        forged, [anchor], start_seq=5, chain_head=tip(forged), anchor=anchor
    )

    assert not report.ok
    assert report.first_bad_seq == 5
    assert report.problems[0].kind is ProblemKind.LINK
