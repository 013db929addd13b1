"""The trail in the database judged against the checkpoints it published elsewhere."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from reaper.audit import checkpoint, publish, published
from reaper.audit.chain import ChainHead
from reaper.audit.checkpoint import Archived, Checkpoint, CheckpointHead
from reaper.audit.verify import VerifyReport
from tests.unit.audit.helpers import T0, checkpoints_at, make_chain, signer

KEY = signer()


@dataclasses.dataclass
class Stored:
    """What the database holds: a chain head and its checkpoints."""

    head: ChainHead
    stored: Sequence[Checkpoint]
    archive: Archived = dataclasses.field(default_factory=Archived)

    def archived(self) -> Archived:
        return self.archive

    def heads(self) -> tuple[ChainHead, CheckpointHead]:
        last = self.stored[-1] if self.stored else None
        return self.head, CheckpointHead(last.number if last else 0, last.digest if last else None)

    def checkpoints(self) -> Iterator[Checkpoint]:
        yield from self.stored


RECORDS = make_chain(30)
CPS = checkpoints_at(RECORDS, [10, 20, 30], KEY)
INTACT = Stored(ChainHead(30, RECORDS[29].head), CPS)


def lines(cps: Sequence[Checkpoint]) -> list[published.Published]:
    return [published.parse(publish.published(cp), f"f:{i}") for i, cp in enumerate(cps, 1)]


def judge(items: list[published.Published], trail: Stored, **kw: object) -> published.Comparison:
    return published.compare(items, trail, public_key=KEY.public_key, **kw)  # type: ignore[arg-type]


def rewound() -> tuple[Stored, list[Checkpoint]]:
    """The attack of issue 13, item 15: tail and checkpoints cut, head rewound, then signed."""
    cut = RECORDS[:12]
    again = checkpoint.make(
        ChainHead(12, cut[-1].head),
        CheckpointHead(1, CPS[0].digest),
        observer="test-host",
        reason="interval",
        signer=KEY,
        now=T0 + dt.timedelta(hours=1),
    )
    return Stored(ChainHead(12, cut[-1].head), [CPS[0], again]), [*CPS, again]


def test_an_intact_trail_matches_everything_it_published() -> None:
    result = judge(lines(CPS), INTACT)
    assert result.problems == [] and result.matched == 3 and result.warnings == []


def test_a_cut_tail_with_a_rewound_head_is_found() -> None:
    database, sent = rewound()
    result = judge(lines(sent), database)
    text = "\n".join(p.message for p in result.problems)
    assert "checkpoint #2 was published 2 times with different contents" in text
    assert "checkpoint #3 (seq 30" in text and "is not in the database" in text
    assert "the chain ends at seq 12, but checkpoint #3 was published at seq 30" in text
    # Checkpoint #1 (seq 10) still matches: anything after it may have been replaced.
    assert min(p.seq for p in result.problems if p.seq) == 11


def test_a_deleted_tail_alone_is_found() -> None:
    result = judge(lines(CPS), Stored(ChainHead(20, RECORDS[19].head), CPS))
    assert [p.message for p in result.problems] == [
        "the chain ends at seq 20, but checkpoint #3 was published at seq 30 "
        "(2024-01-01T00:02:00Z): records after seq 20 were deleted"
    ]


def test_a_rewritten_checkpoint_is_found() -> None:
    other = checkpoints_at(RECORDS, [10, 25, 30], KEY)
    result = judge(lines(CPS), Stored(INTACT.head, other))
    assert any(
        "#2 in the database (seq 25) is not the one published" in p.message for p in result.problems
    )


def test_a_forged_publication_is_found() -> None:
    forger = signer()
    forged = checkpoints_at(RECORDS, [10, 20, 30], forger)
    result = judge(lines(forged), INTACT)
    assert sum("does not verify with the trusted key" in p.message for p in result.problems) == 3


def test_a_published_line_whose_body_was_edited_is_not_a_checkpoint(tmp_path: Path) -> None:
    data = publish.published(CPS[0])
    data["body"] = data["body"].replace('"seq":10', '"seq":11')
    path = tmp_path / "checkpoints.jsonl"
    path.write_text(json.dumps(data) + "\n")
    result = published.Comparison()
    assert published.load(str(path), result) == []
    assert "digest is not the SHA-256 of its body" in result.problems[0].message


def test_unpublished_newer_checkpoints_and_gaps_are_warnings() -> None:
    result = judge(lines([CPS[0], CPS[2]]), INTACT)
    assert result.problems == []
    assert any("1 checkpoint number(s) between #1 and #3" in w for w in result.warnings)
    result = judge(lines(CPS[:2]), INTACT)
    assert result.warnings == [
        "checkpoints #3 to #3 are in the database but not in the published copy (a sink that "
        "failed, or a copy taken earlier)"
    ]


def test_nothing_published_is_a_problem_not_a_pass() -> None:
    assert judge([], INTACT).problems[0].message.startswith("no published checkpoint found")


def test_every_sink_s_form_is_read(tmp_path: Path) -> None:
    """A checkpoint file, a syslog export and a SIEM's notifications, side by side."""
    first, second, third = (publish.line(cp) for cp in CPS)
    (tmp_path / "file.jsonl").write_text(first + "\n")
    (tmp_path / "syslog.log").write_text(
        "Nov 26 12:00:00 host sshd[1]: unrelated\n"
        f"Nov 26 12:00:01 host reaper-audit-checkpoint: {second}\n"
    )
    note = {"event_type": publish.EVENT_TYPE, "payload": json.loads(third)}
    envelope = {"oslo.version": "2.0", "oslo.message": json.dumps(note)}
    (tmp_path / "siem.json").write_text(json.dumps(envelope) + "\n")
    result = published.Comparison()
    found = published.load(str(tmp_path), result)
    assert sorted(p.number for p in found) == [1, 2, 3]
    assert judge(found, INTACT, result=result).problems == []


def test_problems_fail_the_report_and_name_the_first_bad_seq() -> None:
    database, sent = rewound()
    report = VerifyReport()
    published.merge(report, judge(lines(sent), database))
    assert not report.ok and report.first_bad_seq == 11
    assert report.warnings[-1].startswith(f"compared with {len(sent)} published checkpoint(s)")


@pytest.mark.parametrize("require_signed", [False, True])
def test_unsigned_publications(require_signed: bool) -> None:
    unsigned = checkpoints_at(RECORDS, [10, 20, 30], None)
    result = judge(lines(unsigned), Stored(INTACT.head, unsigned), require_signed=require_signed)
    assert bool(result.problems) is require_signed


def test_checkpoints_archived_with_their_records_are_not_deleted_ones() -> None:
    pruned = Stored(INTACT.head, CPS[1:], Archived(seq=20, checkpoint=2))

    result = published.compare(lines(CPS), pruned, public_key=KEY.public_key)

    assert not result.problems
    assert any("before #2 were archived" in w for w in result.warnings)


def test_an_archive_mark_does_not_hide_a_deleted_later_checkpoint() -> None:
    pruned = Stored(INTACT.head, CPS[2:], Archived(seq=20, checkpoint=2))

    result = published.compare(lines(CPS), pruned, public_key=KEY.public_key)

    assert result.problems
