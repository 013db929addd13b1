"""``reaper audit archive``: old records to a verified bundle, pruned, the rest still provable.

Through the real command on every database: the bundle and the pruned store
each verify, the store from the signed checkpoint it starts at; refusals
delete nothing; an open tombstone's records stay.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from reaper import config
from reaper.audit.record import AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cli.main import main
from reaper.model import IdentityKind, IdentityRef, Trigger, TriggerSource, utcnow
from reaper.store import Store
from tests.functional.store_fixtures import raw_engine, tamper
from tests.functional.test_audit_cli import conf_file, reaper

pytestmark = pytest.mark.functional

__all__ = ["conf_file"]

OLD = utcnow() - dt.timedelta(days=2)


def _append(conf_file: Path, n: int, *, when: dt.datetime | None = None, tomb: str = "tomb-0"):
    conf = config.make_conf(["--config-file", str(conf_file)])
    with Store.from_conf(conf) as store:
        trail = AuditTrail.from_conf(store, conf)
        for i in range(n):
            trail.append(
                action="delete",
                outcome="success",
                target=AuditTarget("compute.server", f"srv-{i}"),
                tombstone_id=tomb,
                reason=AuditReason.policy_match("default", "orphans", "owner deleted"),
                event_time=when,
            )


def _checkpoint(conf_file: Path) -> None:
    conf = config.make_conf(["--config-file", str(conf_file)])
    with Store.from_conf(conf) as store:
        AuditTrail.from_conf(store, conf).checkpoint("manual")


def _seqs(store_url: str) -> list[int]:
    engine = raw_engine(store_url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT seq FROM audit_records ORDER BY seq"))]
    finally:
        engine.dispose()


def archive(
    conf: Path, capsys: pytest.CaptureFixture[str], to: Path, before: str = "1h"
) -> tuple[int, str, str]:
    """``reaper audit archive``: exit code, stdout (JSON) and stderr."""
    capsys.readouterr()
    args = ["audit", "archive", "--before", before, "--to", str(to), "-f", "json"]
    code = main(["--config-file", str(conf), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def keyed(conf_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert reaper(conf_file, capsys, "audit", "keygen")[0] == 0
    return conf_file


def test_archive_writes_a_verified_bundle_and_the_store_verifies_from_its_checkpoint(
    keyed: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(keyed, 4, when=OLD)
    _checkpoint(keyed)  # #1, signed, at seq 4
    _append(keyed, 2, when=OLD)  # old, but after the last signed checkpoint: stays
    _append(keyed, 3)  # new
    _checkpoint(keyed)  # #2 at seq 9

    code, out, _ = archive(keyed, capsys, tmp_path / "a1")

    shown = json.loads(out)
    assert code == 0, shown
    assert (shown["Result"], shown["From Seq"], shown["To Seq"], shown["Checkpoint"]) == (
        "archived",
        1,
        4,
        1,
    )
    assert _seqs(store_url) == [5, 6, 7, 8, 9, 10]  # 10: the record of the archive itself
    code, out = reaper(
        keyed, capsys, "audit", "verify", "--bundle", str(tmp_path / "a1"), "-f", "json"
    )
    bundle = json.loads(out)
    assert code == 0, bundle
    assert (bundle["Records"], bundle["Last Seq"], bundle["Checkpoints"]) == (4, 4, 1)
    code, out = reaper(keyed, capsys, "audit", "verify", "-f", "json")
    stored = json.loads(out)
    assert code == 0, stored
    assert (stored["From Checkpoint"], stored["First Seq"], stored["Last Seq"]) == (1, 5, 10)
    assert stored["Signatures Verified"] == 2
    assert not any("on trust" in w for w in stored["Warnings"])
    # The chain itself says what was archived, by whom, where.
    _, out = reaper(keyed, capsys, "audit", "show", "--limit", "1", "--full", "-f", "json")
    record = json.loads(out)[0]["Record"]
    archived = record["reaper"]["extra"]["archive"]
    assert (archived["from_seq"], archived["to_seq"], archived["checkpoint"]) == (1, 4, 1)

    # A second archive continues from the first: its bundle starts at checkpoint #1.
    _checkpoint(keyed)  # #3 at seq 10
    code, out, _ = archive(keyed, capsys, tmp_path / "a2", before="0s")
    assert code == 0, out
    assert (json.loads(out)["From Seq"], json.loads(out)["To Seq"]) == (5, 10)
    code, out = reaper(
        keyed, capsys, "audit", "verify", "--bundle", str(tmp_path / "a2"), "-f", "json"
    )
    assert code == 0, out
    assert json.loads(out)["From Checkpoint"] == 1
    code, out = reaper(keyed, capsys, "audit", "verify", "-f", "json")
    assert code == 0, out
    assert json.loads(out)["From Checkpoint"] == 3


def test_without_a_signed_checkpoint_in_the_old_records_archive_refuses(
    keyed: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(keyed, 4, when=OLD)
    _append(keyed, 1)
    _checkpoint(keyed)  # signed, but at seq 5: after the cut

    code, _, err = archive(keyed, capsys, tmp_path / "a")

    assert code == 4
    assert "\nrefused: no checkpoint signed by the configured key covers records 1 to 4" in err
    assert _seqs(store_url) == [1, 2, 3, 4, 5]
    assert not (tmp_path / "a").exists()


def test_nothing_old_enough_is_no_error(
    keyed: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(keyed, 2)
    _checkpoint(keyed)

    code, out, err = archive(keyed, capsys, tmp_path / "a", before="90d")

    assert code == 0
    assert json.loads(out)["Result"] == "nothing to archive"
    assert "\nnothing to archive: no record after seq 0 is dated before" in err
    assert _seqs(store_url) == [1, 2]


def test_records_of_an_open_tombstone_are_never_pruned(
    keyed: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = config.make_conf(["--config-file", str(keyed)])
    with Store.from_conf(conf) as store:
        identity = IdentityRef(IdentityKind.PROJECT, "0c5d" + "0" * 28)
        open_id = store.tombstones.record_trigger(identity, Trigger(TriggerSource.CLI)).tombstone.id
    _append(keyed, 2, when=OLD)
    _checkpoint(keyed)  # #1 at seq 2
    _append(keyed, 2, when=OLD, tomb=open_id)  # 3, 4: still being worked on
    _append(keyed, 2, when=OLD)
    _checkpoint(keyed)  # #2 at seq 6: beyond the open tombstone's first record

    code, out, _ = archive(keyed, capsys, tmp_path / "a")

    shown = json.loads(out)
    assert code == 0, shown
    assert (shown["To Seq"], shown["Checkpoint"]) == (2, 1)
    assert shown["Stopped By"] == f"open tombstone {open_id}"
    assert _seqs(store_url)[:4] == [3, 4, 5, 6]


def test_a_bundle_that_does_not_verify_deletes_nothing(
    keyed: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(keyed, 3, when=OLD)
    _checkpoint(keyed)
    tamper(store_url, "UPDATE audit_records SET body = body || ' ' WHERE seq = 2")

    code, _, err = archive(keyed, capsys, tmp_path / "a")

    assert code == 4
    assert "does not verify" in err and "nothing was deleted" in err
    assert _seqs(store_url) == [1, 2, 3]


def test_an_unwritable_bundle_is_an_error_and_deletes_nothing(
    keyed: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(keyed, 3, when=OLD)
    _checkpoint(keyed)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other").write_text("x")

    code, _, err = archive(keyed, capsys, tmp_path / "full")

    assert code == 1
    assert "cannot write the bundle" in err and "nothing was deleted" in err
    assert "Traceback" not in err
    assert _seqs(store_url) == [1, 2, 3]


def test_the_trigger_still_refuses_to_delete_records_that_were_not_archived(
    keyed: Path, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(keyed, 3, when=OLD)
    _checkpoint(keyed)
    _append(keyed, 2)
    assert archive(keyed, capsys, tmp_path / "a")[0] == 0

    engine = raw_engine(store_url)
    try:
        for statement in (
            "DELETE FROM audit_records WHERE seq = 4",
            "DELETE FROM audit_checkpoints",
        ):
            with engine.connect() as conn, pytest.raises(sa_exc.DatabaseError, match="append-only"):
                conn.execute(text(statement))
                conn.commit()
    finally:
        engine.dispose()
    assert _seqs(store_url) == [4, 5, 6]
