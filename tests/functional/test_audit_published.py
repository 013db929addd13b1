"""Checkpoints published outside the database catch a tail cut with reaper's own login.

Issue 13, item 15: with reaper's database login one can drop the append-only
triggers, delete the last records and checkpoints, rewind the chain head,
and the next checkpoint signs the rewound head; ``reaper audit verify``
finds nothing wrong. The copies every checkpoint leaves in ``[audit]
checkpoint_sinks`` are what ``reaper audit verify --against`` compares with.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import kombu
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from reaper import config
from reaper.audit.record import Actor, AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup.lifecycle import Reopener
from reaper.cli.main import main
from reaper.events.listener import IdentityEndpoint
from reaper.store import Store, schema
from tests.functional.controller_fixtures import ControllerProcess
from tests.functional.store_fixtures import pg_server_url, tamper

pytestmark = pytest.mark.functional


def write_conf(tmp_path: Path, store_url: str, audit: str) -> Path:
    path = tmp_path / "reaper.conf"
    path.write_text(
        "[DEFAULT]\n"
        f"state_path = {tmp_path / 'state'}\n"
        "transport_url = rabbit://guest:guest@127.0.0.1:5672/\n"
        "[store]\n"
        f"connection = {store_url}\n"
        "[audit]\n"
        f"signing_key_file = {tmp_path / 'keys' / 'audit.pem'}\n" + audit
    )
    return path


def reaper_cli(conf: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    """``reaper --config-file CONF ARGS... -f json``, in this process."""
    capsys.readouterr()
    code = main(["--config-file", str(conf), *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip().startswith("{") else {})


def work(conf: Path, records: int, checkpoints: int) -> None:
    """What a controller leaves: records, and a checkpoint after every few."""
    settings = config.make_conf(["--config-file", str(conf)], config_files=[])
    with Store.from_conf(settings) as store:
        trail = AuditTrail.from_conf(store, settings)
        for n in range(records):
            trail.append(
                action="delete",
                outcome="success",
                target=AuditTarget("compute.server", f"srv-{n}"),
                reason=AuditReason.policy_match("default", "orphans", "owner deleted"),
            )
            if (n + 1) % (records // checkpoints) == 0:
                trail.checkpoint("interval")


def cut_the_tail(url: str, keep_seq: int, keep_checkpoint: int) -> None:
    """The attack, with nothing but the database login reaper itself uses."""
    tamper(
        url,
        "DELETE FROM audit_records WHERE seq > :seq",
        "DELETE FROM audit_checkpoints WHERE number > :number",
        # Scalar subqueries, not UPDATE ... FROM: the one spelling SQLite, PostgreSQL
        # and MySQL/MariaDB all accept.
        "UPDATE audit_chain_head SET seq = :seq, "
        "head = (SELECT head FROM audit_records WHERE seq = :seq), "
        "checkpoint_number = :number, "
        "checkpoint_digest = (SELECT digest FROM audit_checkpoints WHERE number = :number)",
        params={"seq": keep_seq, "number": keep_checkpoint},
    )


def test_a_cut_tail_passes_plain_verify_but_not_verify_against_the_published_file(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    published = tmp_path / "elsewhere" / "checkpoints.jsonl"
    published.parent.mkdir()
    conf = write_conf(
        tmp_path, store_url, f"checkpoint_sinks = file\ncheckpoint_file = {published}\n"
    )
    assert reaper_cli(conf, capsys, "audit", "keygen")[0] == 0
    work(conf, records=30, checkpoints=3)  # checkpoints #1..#3 at seq 10, 20, 30
    code, shown = reaper_cli(
        conf, capsys, "audit", "verify", "--against", str(published), "-f", "json"
    )
    assert (code, shown["Result"]) == (0, "OK"), shown

    cut_the_tail(store_url, keep_seq=10, keep_checkpoint=1)
    work(conf, records=2, checkpoints=1)  # life goes on; checkpoint #2 signs the rewound head

    code, shown = reaper_cli(conf, capsys, "audit", "verify", "-f", "json")
    assert (code, shown["Result"]) == (0, "OK")  # what the database alone can tell
    code, shown = reaper_cli(
        conf, capsys, "audit", "verify", "--against", str(published), "-f", "json"
    )
    assert (code, shown["Result"]) == (1, "FAILED")
    assert shown["First Bad Seq"] == 11
    details = "\n".join(shown["Details"])
    assert "checkpoint #2 was published 2 times with different contents" in details
    assert "checkpoint #3 (seq 30" in details and "is not in the database" in details
    assert "the chain ends at seq 12, but checkpoint #3 was published at seq 30" in details


def test_checkpoints_reach_syslog_and_the_bus_and_verify_against_their_copies(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    syslog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    syslog.bind(("127.0.0.1", 0))
    syslog.settimeout(10)
    topic = f"reaper-test-{uuid.uuid4().hex[:8]}"
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as bus:
        queue = kombu.Queue(
            topic,
            kombu.Exchange("openstack", type="topic", durable=False),
            routing_key=f"{topic}.info",
            auto_delete=True,
        )
        queue(bus.channel()).declare()
        conf = write_conf(
            tmp_path,
            sqlite_url,
            "checkpoint_sinks = syslog, notification\n"
            f"checkpoint_syslog_address = 127.0.0.1:{syslog.getsockname()[1]}\n"
            f"checkpoint_topics = {topic}\n",
        )
        assert reaper_cli(conf, capsys, "audit", "keygen")[0] == 0
        work(conf, records=6, checkpoints=2)

        received = [syslog.recv(65536).decode() for _ in range(2)]
        notes = []
        for _ in range(2):
            message = queue(bus.channel()).get(no_ack=True)
            assert message is not None
            notes.append(message.body if isinstance(message.body, str) else message.body.decode())
        queue(bus.channel()).delete()
    assert all("reaper-audit-checkpoint: {" in line for line in received)
    assert all("reaper.audit.checkpoint" in note for note in notes)
    copies = tmp_path / "copies"
    copies.mkdir()
    (copies / "syslog.log").write_text("\n".join(received) + "\n")
    (copies / "siem.json").write_text("\n".join(notes) + "\n")

    code, shown = reaper_cli(
        conf, capsys, "audit", "verify", "--against", str(copies), "-f", "json"
    )

    assert (code, shown["Result"]) == (0, "OK"), shown
    assert "compared with 4 published checkpoint(s); 4 match the database" in shown["Warnings"]
    syslog.close()


OPERATIONS = Path(__file__).resolve().parents[2] / "doc" / "operations.md"


def role_split_sql() -> tuple[str, str]:
    """doc/operations.md's role split: the part before the schema exists, and the part after."""
    text = OPERATIONS.read_text()
    start = text.index("```sql", text.index("### A database login that cannot remove"))
    block = text[start + len("```sql\n") : text.index("```", start + 6)]
    before, after = block.split("-- Open the store once as reaper_owner first", 1)
    return before, after.split("\n", 2)[2]  # the rest of that comment, then the grants


def psql(url: object, sql: str) -> None:
    subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", str(url)],
        input=sql,
        text=True,
        check=True,
        capture_output=True,
    )


def test_the_documented_role_split_leaves_the_controllers_login_unable_to_cut_the_trail(
    pg_databases: object,
) -> None:
    server = pg_server_url()
    tag = secrets.token_hex(3)
    owner, login = f"reaper_owner_{tag}", f"reaper_{tag}"
    before, after = role_split_sql()

    def rename(sql: str) -> str:
        """The documented names, made unique: roles are shared by the whole server."""
        return re.sub(r"\breaper\b", login, sql.replace("reaper_owner", owner))

    libpq = server.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psql(libpq, rename(before))
        Store.open(str(server.set(database=login, username=owner))).close()  # the schema
        psql(server.set(drivername="postgresql", database=login).render_as_string(), rename(after))

        url = str(server.set(database=login, username=login))
        with Store.open(url) as store:
            trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
            endpoint = IdentityEndpoint(store, trail, reopener=Reopener(store))
            deletion = {
                "event_type": "identity.project.deleted",
                "payload": {"resource_info": uuid.uuid4().hex},
                "metadata": {"message_id": str(uuid.uuid4())},
            }
            assert endpoint.info([deletion]) == "handled"
            assert store.tombstones.claim_next("t") is not None
            trail.checkpoint("manual")
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for table in schema.metadata.tables:
                assert conn.execute(
                    text("SELECT has_table_privilege(current_user, :t, 'SELECT')"), {"t": table}
                ).scalar(), f"{table}: the controllers' login cannot read it"
            for attack in (
                "ALTER TABLE audit_records DISABLE TRIGGER USER",
                "DROP TRIGGER audit_records_append_only ON audit_records",
                "DELETE FROM audit_records",
                "UPDATE audit_checkpoints SET seq = 0",
                "TRUNCATE audit_records",
                "DROP TABLE audit_checkpoints",
            ):
                with pytest.raises(ProgrammingError, match=r"must be owner|permission denied"):
                    conn.execute(text(attack))
        engine.dispose()
    finally:
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{login}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()


def test_the_controller_publishes_its_checkpoints_and_refuses_a_sink_that_protects_nothing(
    controllers: Callable[..., ControllerProcess],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = tmp_path / "elsewhere.jsonl"
    inside = controllers(extra="[audit]\ncheckpoint_sinks = file\n", name="inside")
    inside.conf_path.write_text(
        inside.conf_path.read_text() + f"checkpoint_file = {inside.workdir}/cp.jsonl\n"
    )
    with pytest.raises(AssertionError, match="is inside state_path"):
        inside.start(timeout=30)

    reaper = controllers(extra=f"[audit]\ncheckpoint_sinks = file\ncheckpoint_file = {copy}\n")
    reaper.start()
    assert reaper.terminate() == 0
    reasons = [
        json.loads(json.loads(line)["body"])["reason"] for line in copy.read_text().splitlines()
    ]
    assert reasons == ["start", "stop"]
    verify = ["audit", "verify", "--against", str(copy), "-f", "json"]
    code, shown = reaper_cli(reaper.conf_path, capsys, *verify)
    assert (code, shown["Result"]) == (0, "OK")
