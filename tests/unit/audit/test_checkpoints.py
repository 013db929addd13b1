"""Signed checkpoints anchor the chain: rewrites, truncation and forgeries show."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from reaper import canonical
from reaper.audit import keys
from reaper.audit.chain import ChainHead
from reaper.audit.checkpoint import Checkpoint, CheckpointHead
from reaper.audit.verify import ProblemKind, Verifier
from tests.unit.audit.helpers import (
    T0,
    checkpoints_at,
    edit_body,
    make_chain,
    reseal_from,
    signer,
    tip,
)

KEY = signer()
RECORDS = make_chain(10)
CHECKPOINTS = checkpoints_at(RECORDS, [0, 3, 7, 10], KEY)
CP_HEAD = CheckpointHead(CHECKPOINTS[-1].number, CHECKPOINTS[-1].digest)


def verify(records=RECORDS, cps=CHECKPOINTS, head=None, cp_head=CP_HEAD, **kwargs):  # type: ignore[no-untyped-def]
    return Verifier(public_key=kwargs.pop("public_key", KEY.public_key), **kwargs).run(
        records,
        cps,
        chain_head=head if head is not None else tip(records),
        checkpoint_head=cp_head,
    )


def resign(cp: Checkpoint, change: dict, key: keys.Signer | None = KEY) -> Checkpoint:
    """A checkpoint with a changed body, re-signed by ``key`` (``None``: signature kept)."""
    payload = {**cp.payload(), **change}
    body = canonical.dumps(payload)
    return dataclasses.replace(
        cp,
        body=body.decode(),
        digest=canonical.sha256_hex(body),
        seq=payload["seq"],
        head=payload["head"],
        key_id=payload["key_id"],
        signature=key.sign(body) if key else cp.signature,
    )


# -- signatures ------------------------------------------------------------


def test_signatures_made_with_the_key_verify_with_its_public_half() -> None:
    signature = KEY.sign(b"checkpoint")

    assert keys.verify_signature(KEY.public_key, b"checkpoint", signature)
    assert not keys.verify_signature(KEY.public_key, b"checkpoinT", signature)
    assert not keys.verify_signature(signer().public_key, b"checkpoint", signature)
    assert not keys.verify_signature(KEY.public_key, b"checkpoint", "not base64!")


def test_a_key_is_named_by_the_hash_of_its_public_half() -> None:
    assert KEY.key_id == keys.key_id(KEY.public_key)
    assert len(KEY.key_id) == 64
    assert KEY.key_id != signer().key_id


def test_a_checkpoint_says_where_the_chain_was_and_when() -> None:
    cp = CHECKPOINTS[2]
    payload = cp.payload()

    assert payload["type"] == "reaper-audit-checkpoint/1"
    assert (payload["number"], payload["seq"], payload["head"]) == (3, 7, RECORDS[6].head)
    assert payload["time"] == "2024-01-01T00:02:00Z"
    assert payload["prev"] == CHECKPOINTS[1].digest
    assert payload["key_id"] == KEY.key_id
    assert cp.digest == canonical.sha256_hex(cp.body.encode())


# -- verification ------------------------------------------------------------


def test_an_intact_trail_with_signed_checkpoints_verifies() -> None:
    report = verify()

    assert report.ok, report.problems
    assert report.checkpoints == 4
    assert report.signatures_verified == 4
    assert report.warnings == []


def test_a_forged_signature_is_reported_with_its_checkpoint() -> None:
    cps = list(CHECKPOINTS)
    forged = signer().sign(cps[2].body.encode())
    cps[2] = dataclasses.replace(cps[2], signature=forged)

    report = verify(cps=cps)

    assert not report.ok
    problem = report.problems[0]
    assert (problem.kind, problem.checkpoint) == (ProblemKind.SIGNATURE, 3)
    assert "forged" in problem.message


def test_a_checkpoint_signed_by_another_key_is_reported() -> None:
    cps = list(CHECKPOINTS)
    intruder = signer()
    cps[1] = resign(cps[1], {"key_id": intruder.key_id}, key=intruder)

    report = verify(cps=cps)

    assert any(
        p.kind is ProblemKind.SIGNATURE
        and p.checkpoint == 2
        and "not by the trusted key" in p.message
        for p in report.problems
    )


def test_a_checkpoint_edited_after_signing_is_reported() -> None:
    cps = list(CHECKPOINTS)
    cps[2] = resign(cps[2], {"seq": 6, "head": RECORDS[5].head}, key=None)

    report = verify(cps=cps)

    kinds = {(p.kind, p.checkpoint) for p in report.problems}
    assert (ProblemKind.SIGNATURE, 3) in kinds


def test_records_rewritten_with_recomputed_hashes_are_caught_by_the_next_checkpoint() -> None:
    records = list(RECORDS)
    records[4] = edit_body(records[4], lambda b: b["reason"].update(reasonCode="benign"))
    records = reseal_from(records, 4)

    report = verify(records=records)

    # The chain itself is consistent; only the signed checkpoint at seq 7 disagrees,
    # and the last checkpoint that still matched was at seq 3.
    assert not report.ok
    problem = report.problems[0]
    assert problem.kind is ProblemKind.CHECKPOINT
    assert (problem.seq, problem.checkpoint) == (4, 3)
    assert "records 4 to 7 were rewritten" in problem.message


def test_a_cut_tail_is_caught_by_a_checkpoint_even_with_a_rewound_head() -> None:
    records = RECORDS[:8]

    report = verify(records=records, head=tip(records))

    assert report.first_bad_seq == 9
    assert any(p.kind is ProblemKind.MISSING and p.checkpoint == 4 for p in report.problems)


def test_a_removed_checkpoint_is_reported() -> None:
    cps = [c for c in CHECKPOINTS if c.number != 2]

    report = verify(cps=cps)

    problem = report.problems[0]
    assert (problem.kind, problem.checkpoint) == (ProblemKind.CHECKPOINT_CHAIN, 3)
    assert "checkpoint #2 is missing" in problem.message


def test_removing_the_newest_checkpoints_is_seen_against_the_checkpoint_head() -> None:
    report = verify(cps=CHECKPOINTS[:2])

    assert any(p.kind is ProblemKind.CHECKPOINT_CHAIN for p in report.problems)


def test_a_replaced_checkpoint_breaks_the_checkpoint_chain() -> None:
    cps = list(CHECKPOINTS)
    cps[1] = resign(cps[1], {"time": "2024-01-01T00:01:30Z"})
    cps[1] = dataclasses.replace(cps[1], created_at=T0 + dt.timedelta(seconds=90))

    report = verify(cps=cps)

    assert any(
        p.kind is ProblemKind.CHECKPOINT_CHAIN and p.checkpoint == 3 for p in report.problems
    )


def test_a_checkpoint_whose_columns_disagree_with_its_body_is_reported() -> None:
    cps = list(CHECKPOINTS)
    cps[1] = dataclasses.replace(cps[1], reason="tombstone")

    report = verify(cps=cps)

    assert any("columns disagree" in p.message for p in report.problems)


def test_unsigned_checkpoints_are_a_warning_unless_signatures_are_required() -> None:
    cps = checkpoints_at(RECORDS, [0, 5, 10], None)
    cp_head = CheckpointHead(3, cps[-1].digest)

    relaxed = verify(cps=cps, cp_head=cp_head)
    strict = verify(cps=cps, cp_head=cp_head, require_signed=True)

    assert relaxed.ok
    assert "3 checkpoint(s) are unsigned" in relaxed.warnings
    assert not strict.ok
    assert {p.kind for p in strict.problems} == {ProblemKind.UNSIGNED}


def test_without_a_public_key_signatures_are_counted_not_trusted() -> None:
    report = verify(public_key=None)

    assert report.ok
    assert report.signatures_verified == 0
    assert any("not checked" in w for w in report.warnings)


def test_records_after_the_last_checkpoint_are_pointed_out() -> None:
    report = verify(cps=CHECKPOINTS[:3], cp_head=None)

    assert report.ok
    assert any("3 record(s) after the last checkpoint" in w for w in report.warnings)


def test_a_stale_newest_checkpoint_is_a_warning() -> None:
    late = T0 + dt.timedelta(hours=5)

    report = verify(checkpoint_interval=300, now=late)

    assert report.ok
    assert any("latest checkpoint is" in w for w in report.warnings)


def test_a_long_silence_between_checkpoints_is_a_warning() -> None:
    cps = checkpoints_at(RECORDS, [0, 10], KEY)
    late = resign(cps[1], {"time": "2024-01-01T03:00:00Z"})
    late = dataclasses.replace(late, created_at=T0 + dt.timedelta(hours=3))

    report = verify(cps=[cps[0], late], checkpoint_interval=300, cp_head=None)

    assert report.ok
    assert any("reaper was not running" in w for w in report.warnings)


def test_an_empty_trail_with_its_checkpoint_verifies() -> None:
    cps = checkpoints_at([], [0], KEY)

    report = Verifier(public_key=KEY.public_key).run([], cps, chain_head=ChainHead())

    assert report.ok
    assert report.signatures_verified == 1
    assert json.loads(cps[0].body)["seq"] == 0
