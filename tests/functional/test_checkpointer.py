"""Checkpoints keep coming while nothing happens, so silence differs from truncation."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from structlog.testing import capture_logs

from reaper import config, log
from reaper.audit import keys
from reaper.audit.checkpointer import Checkpointer
from reaper.audit.parallel import verify_store
from reaper.audit.record import AuditTarget
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.store import Store
from reaper.store.engine import sqlite_path

pytestmark = pytest.mark.functional


def conf_with(tmp_path: Path, **audit: str) -> config.cfg.ConfigOpts:
    path = tmp_path / "reaper.conf"
    path.write_text(
        "[DEFAULT]\nhost = checkpointer-test\n[audit]\n"
        + "".join(f"{k} = {v}\n" for k, v in audit.items())
    )
    return config.make_conf(["--config-file", str(path)])


def test_an_idle_service_still_writes_signed_checkpoints(store: Store, tmp_path: Path) -> None:
    keys.generate(str(tmp_path / "key.pem"))
    conf = conf_with(tmp_path, signing_key_file=str(tmp_path / "key.pem"))
    trail = AuditTrail.from_conf(store, conf)
    checkpointer = Checkpointer(trail, interval=0.05)

    checkpointer.start()
    deadline = time.monotonic() + 30
    while (
        sum(1 for _ in AuditRepository(store.db).checkpoints()) < 3 and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    checkpointer.stop()

    cps = list(AuditRepository(store.db).checkpoints())
    assert len(cps) >= 4
    assert cps[0].reason == "start" and cps[-1].reason == "stop"
    assert {c.reason for c in cps[1:-1]} == {"interval"}
    assert all(c.seq == 0 and c.signed for c in cps)
    report = verify_store(
        AuditRepository(store.db), public_key=trail.signer.public_key if trail.signer else None
    )
    assert report.ok and report.signatures_verified == len(cps)


def test_checkpoints_follow_the_chain_as_it_grows(store: Store, tmp_path: Path) -> None:
    trail = AuditTrail.from_conf(store, conf_with(tmp_path))
    checkpointer = Checkpointer(trail, interval=3600)

    first = checkpointer.run_once()
    trail.append(action="read", outcome="success", target=AuditTarget("identity.project", "p"))
    second = checkpointer.run_once()

    assert first is not None and second is not None
    assert (first.seq, second.seq) == (0, 1)


def test_the_interval_comes_from_the_configuration(store: Store, tmp_path: Path) -> None:
    conf = conf_with(tmp_path, checkpoint_interval="42")

    checkpointer = Checkpointer.from_conf(AuditTrail.from_conf(store, conf), conf)

    assert checkpointer.interval == 42


def test_no_key_means_unsigned_checkpoints_and_a_warning_not_a_crash(
    store: Store, tmp_path: Path
) -> None:
    # The advice is said once per process; the operator's process has said nothing yet.
    log.forget_advice()
    with capture_logs() as logs:
        trail = AuditTrail.from_conf(store, conf_with(tmp_path))

    assert trail.signer is None
    assert any(e["log_level"] == "warning" and "unsigned" in e["event"] for e in logs), logs
    assert not trail.checkpoint().signed


def test_a_configured_key_that_cannot_be_read_is_an_error(store: Store, tmp_path: Path) -> None:
    conf = conf_with(tmp_path, signing_key_file=str(tmp_path / "missing.pem"))

    with pytest.raises(keys.SigningKeyError, match="cannot read key file"):
        AuditTrail.from_conf(store, conf)


def test_a_key_that_is_not_ed25519_is_an_error(store: Store, tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "ec.pem").write_bytes(pem)
    conf = conf_with(tmp_path, signing_key_file=str(tmp_path / "ec.pem"))

    with pytest.raises(keys.SigningKeyError, match="not an Ed25519 key"):
        AuditTrail.from_conf(store, conf)


def test_a_checkpoint_that_fails_is_logged_and_retried_next_time(
    tmp_path: Path, sqlite_url: str
) -> None:
    store = Store.open(sqlite_url, connect_timeout=1)
    checkpointer = Checkpointer(AuditTrail.from_conf(store, conf_with(tmp_path)), interval=3600)
    path = sqlite_path(sqlite_url)
    assert path is not None
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with capture_logs() as logs:
            failed = checkpointer.run_once()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert failed is None
    assert any("checkpoint failed" in e["event"] for e in logs)
    retried = checkpointer.run_once()
    assert retried is not None and retried.number == 1
    store.close()
