"""``reaper audit show|verify|export|keygen`` as an operator runs them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from reaper import config
from reaper.audit.record import AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cli.main import main
from reaper.store import Store
from tests.functional.store_fixtures import tamper

pytestmark = pytest.mark.functional


@pytest.fixture
def conf_file(tmp_path: Path, store_url: str) -> Path:
    key = tmp_path / "keys" / "audit.pem"
    path = tmp_path / "reaper.conf"
    path.write_text(
        "[DEFAULT]\n"
        f"state_path = {tmp_path / 'state'}\n"
        "host = cli-test\n"
        "[store]\n"
        f"connection = {store_url}\n"
        "[audit]\n"
        f"signing_key_file = {key}\n"
        "checkpoint_interval = 300\n"
    )
    return path


def reaper(conf_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--config-file", str(conf_file), *args])
    return code, capsys.readouterr().out


@pytest.fixture
def filled(conf_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A trail of six records over two tombstones, with a signing key."""
    assert reaper(conf_file, capsys, "audit", "keygen")[0] == 0
    conf = config.make_conf(["--config-file", str(conf_file)])
    with Store.from_conf(conf) as store:
        trail = AuditTrail.from_conf(store, conf)
        for i in range(6):
            trail.append(
                action="delete",
                outcome="success" if i != 4 else "failure",
                target=AuditTarget("compute.server", f"srv-{i}"),
                tombstone_id=f"tomb-{i % 2}",
                reason=AuditReason.policy_match("default", "orphans", "owner deleted"),
            )
        trail.end_tombstone("tomb-0")
    return conf_file


def test_keygen_writes_a_private_key_only_reaper_can_read(
    conf_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = reaper(conf_file, capsys, "audit", "keygen", "-f", "json")

    shown = json.loads(out)
    assert code == 0
    assert stat.S_IMODE(os.stat(shown["Private Key"]).st_mode) == 0o600
    assert Path(shown["Public Key"]).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert len(shown["Key ID"]) == 64


def test_keygen_refuses_to_replace_a_key(
    conf_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reaper(conf_file, capsys, "audit", "keygen")

    code, _ = reaper(conf_file, capsys, "audit", "keygen")

    assert code == 1
    assert reaper(conf_file, capsys, "audit", "keygen", "--force")[0] == 0


def test_show_lists_records_and_filters_them(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, everything = reaper(filled, capsys, "audit", "show", "-f", "json")
    _, tomb = reaper(filled, capsys, "audit", "show", "--tombstone", "tomb-1", "-f", "json")
    _, one = reaper(filled, capsys, "audit", "show", "--resource", "srv-4", "--full", "-f", "json")
    _, recent = reaper(filled, capsys, "audit", "show", "--since", "1h", "-f", "json")

    rows = json.loads(everything)
    assert [r["Seq"] for r in rows] == [6, 5, 4, 3, 2, 1]  # newest first
    assert rows[-1]["Reason"] == "[default:orphans] owner deleted"
    assert all(r["Time"].endswith("Z") and len(r["Time"]) == 20 for r in rows)
    assert [r["Seq"] for r in json.loads(tomb)] == [6, 4, 2]
    record = json.loads(one)[0]
    assert record["Outcome"] == "failure"
    assert record["Record"]["observer"]["name"] == "cli-test"
    assert len(json.loads(recent)) == 6


def test_verify_passes_a_clean_trail_with_exit_code_0(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = reaper(filled, capsys, "audit", "verify", "-f", "json")

    report = json.loads(out)
    assert code == 0
    assert report["Result"] == "OK"
    assert (report["Records"], report["Signatures Verified"]) == (6, 1)
    assert report["First Bad Seq"] is None


def test_verify_names_the_first_bad_seq_and_exits_1(
    filled: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(store_url, "UPDATE audit_records SET body = replace(body, 'srv-2', 'srv-9')")

    code, out = reaper(filled, capsys, "audit", "verify", "-f", "json")

    report = json.loads(out)
    assert code == 1
    assert report["Result"] == "FAILED"
    assert report["First Bad Seq"] == 3
    assert "edited" in report["Reason"]


def test_verify_with_another_public_key_reports_the_signatures(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.pem"
    reaper(filled, capsys, "audit", "keygen", "--out", str(other))

    code, out = reaper(
        filled, capsys, "audit", "verify", "--public-key", f"{other}.pub", "-f", "json"
    )

    assert code == 1
    assert "not by the trusted key" in json.loads(out)["Reason"]


def test_verify_checks_a_range(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = reaper(filled, capsys, "audit", "verify", "--from", "2", "--to", "4", "-f", "json")

    report = json.loads(out)
    assert code == 0
    assert (report["First Seq"], report["Last Seq"]) == (2, 4)


def test_export_then_verify_the_bundle_without_the_database(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "bundle"
    code, out = reaper(filled, capsys, "audit", "export", "--out", str(out_dir), "-f", "json")
    exported = json.loads(out)
    nowhere = tmp_path / "no-database.conf"
    nowhere.write_text("[store]\nconnection = postgresql+psycopg2://nobody@127.0.0.1:9/none\n")

    verify_code, verified = reaper(
        nowhere,
        capsys,
        "audit",
        "verify",
        "--bundle",
        str(out_dir),
        "--public-key",
        str(tmp_path / "keys" / "audit.pem.pub"),
        "-f",
        "json",
    )

    assert code == 0
    # The export wrote a checkpoint of its own first: tombstone + export.
    assert (exported["Records"], exported["Checkpoints"]) == (6, 2)
    assert verify_code == 0
    assert json.loads(verified)["Signatures Verified"] == 2


def test_a_tampered_bundle_fails_verification(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "bundle"
    reaper(filled, capsys, "audit", "export", "--out", str(out_dir))
    records = out_dir / "records.jsonl"
    records.write_text(records.read_text().replace("srv-5", "srv-0"))

    code, out = reaper(filled, capsys, "audit", "verify", "--bundle", str(out_dir), "-f", "json")

    assert code == 1
    assert json.loads(out)["First Bad Seq"] == 6


def test_an_unreachable_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "down.conf"
    conf.write_text(
        "[store]\nconnection = postgresql+psycopg2://nobody@127.0.0.1:9/none\nconnect_timeout = 2\n"
    )

    code = main(["--config-file", str(conf), "audit", "verify"])

    assert code == 1
    assert "database is unavailable" in capsys.readouterr().err
