"""Export, then verify offline: a bundle proves the trail without the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reaper.audit import export, keys
from reaper.audit.export import BundleError, export_bundle, verify_bundle
from reaper.audit.record import Actor, AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.audit.verify import ProblemKind
from reaper.store import Store
from tests.unit.audit.helpers import signer

pytestmark = pytest.mark.functional

KEY = signer()


@pytest.fixture
def bundle(store: Store, tmp_path: Path) -> Path:
    trail = AuditTrail(
        store, initiator=Actor.service_user(), observer=Actor.instance("h"), signer=KEY
    )
    trail.checkpoint("start")
    for t in range(3):
        with trail.batch() as batch:
            for i in range(4):
                batch.append(
                    action="delete",
                    outcome="success",
                    target=AuditTarget("compute.server", f"srv-{t}-{i}"),
                    tombstone_id=f"tomb-{t}",
                    before={"name": f"vm-{i}", "metadata": {"note": "ünïcode ✓"}},
                )
        trail.end_tombstone(f"tomb-{t}")
    trail.checkpoint("export")
    out = tmp_path / "bundle"
    export_bundle(
        AuditRepository(store.db), str(out), public_key=KEY.public_key, checkpoint_interval=300
    )
    return out


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def rewrite(path: Path, new: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in new), encoding="utf-8")


def test_an_exported_bundle_verifies_offline(bundle: Path) -> None:
    report = verify_bundle(str(bundle), public_key=KEY.public_key)

    assert report.ok, report.problems
    assert (report.records, report.checkpoints, report.signatures_verified) == (12, 5, 5)
    assert report.warnings == []


def test_a_bundle_holds_records_checkpoints_key_and_manifest(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    first = json.loads(lines(bundle / "records.jsonl")[0])

    assert manifest["format"] == "reaper-audit-bundle/1"
    assert manifest["chain_head"]["seq"] == manifest["records"] == 12
    assert manifest["key_id"] == KEY.key_id
    assert set(first) == {"seq", "prev_head", "head", "record_hash", "record"}
    assert first["record"]["reaper"]["before"]["metadata"]["note"] == "ünïcode ✓"
    assert keys.key_id(keys.load_public_key(str(bundle / "public_key.pem"))) == KEY.key_id


def test_the_bundles_own_key_is_used_but_flagged(bundle: Path) -> None:
    report = verify_bundle(str(bundle))

    assert report.ok
    assert report.signatures_verified == 5
    assert any("bundle's own public key" in w for w in report.warnings)


def test_an_edited_record_in_a_bundle_is_reported_at_its_seq(bundle: Path) -> None:
    path = bundle / "records.jsonl"
    content = lines(path)
    entry = json.loads(content[6])
    entry["record"]["outcome"] = "failure"
    content[6] = json.dumps(entry)
    rewrite(path, content)

    report = verify_bundle(str(bundle), public_key=KEY.public_key)

    assert report.first_bad_seq == 7
    assert report.first_problem is not None
    assert report.first_problem.kind is ProblemKind.EDITED
    assert any(p.kind is ProblemKind.BUNDLE for p in report.problems)


@pytest.mark.parametrize(
    ("change", "seq"),
    [
        (lambda c: [*c[:4], *c[5:]], 5),
        (lambda c: [*c[:3], c[4], c[3], *c[5:]], 4),
        (lambda c: c[:-2], 11),
        (lambda c: [*c[:2], c[1], *c[2:]], 2),
    ],
    ids=["deleted", "swapped", "cut tail", "duplicated"],
)
def test_lines_removed_moved_or_repeated_are_reported_at_their_seq(
    bundle: Path, change: object, seq: int
) -> None:
    path = bundle / "records.jsonl"
    rewrite(path, change(lines(path)))  # type: ignore[operator]

    report = verify_bundle(str(bundle), public_key=KEY.public_key)

    assert report.first_bad_seq == seq


def test_a_forged_checkpoint_signature_in_a_bundle_is_reported(bundle: Path) -> None:
    path = bundle / "checkpoints.jsonl"
    content = lines(path)
    entry = json.loads(content[2])
    entry["signature"] = signer().sign(json.dumps(entry["checkpoint"]).encode())
    content[2] = json.dumps(entry)
    rewrite(path, content)

    report = verify_bundle(str(bundle), public_key=KEY.public_key)

    assert any(p.kind is ProblemKind.SIGNATURE and p.checkpoint == 3 for p in report.problems)


def test_a_bundle_re_signed_with_another_key_fails_against_the_trusted_key(
    bundle: Path, tmp_path: Path
) -> None:
    intruder = signer()
    path = bundle / "checkpoints.jsonl"
    content = []
    for line in lines(path):
        entry = json.loads(line)
        entry["checkpoint"]["key_id"] = intruder.key_id
        body = json.dumps(entry["checkpoint"], sort_keys=True, separators=(",", ":"))
        entry["signature"] = intruder.sign(body.encode())
        content.append(json.dumps(entry))
    rewrite(path, content)
    (bundle / "public_key.pem").write_bytes(keys.public_pem(intruder.public_key))

    trusted = verify_bundle(str(bundle), public_key=KEY.public_key)

    assert not trusted.ok
    assert {p.kind for p in trusted.problems} >= {ProblemKind.SIGNATURE}


def test_export_refuses_a_directory_that_is_not_empty(store: Store, tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "file").write_text("x")

    with pytest.raises(BundleError, match="not empty"):
        export_bundle(AuditRepository(store.db), str(tmp_path / "old"))


def test_a_directory_without_a_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        verify_bundle(str(tmp_path))


def test_an_empty_trail_exports_and_verifies(store: Store, tmp_path: Path) -> None:
    result = export_bundle(AuditRepository(store.db), str(tmp_path / "b"))

    assert (result.records, result.checkpoints) == (0, 0)
    assert verify_bundle(str(tmp_path / "b")).ok
    assert not (tmp_path / "b" / export.PUBLIC_KEY).exists()
