"""The controller's listener on the real broker: what no message on the bus can do to it.

Each test starts ``reaper-controller`` against the testbed (its Keystone and
RabbitMQ vhost) and publishes on the ``keystone`` exchange as anyone with
bus access could, then checks the audit trail and that a real deletion made
in Keystone afterwards is still cleaned up.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.functional import garbage
from tests.functional.controller_fixtures import Bus, ControllerProcess

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional


def rejections(
    reaper: ControllerProcess, count: int, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """The first ``count`` ``receive`` failures of the trail, waiting for them."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = [
            r for r in reaper.audit() if r["action"] == "receive" and r["outcome"] == "failure"
        ]
        if len(found) >= count:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{len(found)} of {count} rejections audited:\n{reaper.log()[-3000:]}")


def rejected_counted(reaper: ControllerProcess) -> float:
    """``reaper_notifications_total`` of every ``rejected_*`` outcome, from ``/metrics``."""
    started = [
        json.loads(line) for line in reaper.log().splitlines() if "controller started" in line
    ]
    port = started[-1]["api_port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "reaper_notifications_total"
        and sample.labels.get("outcome", "").startswith("rejected_")
    )


def a_real_deletion_goes_through(admin: Connection, reaper: ControllerProcess) -> None:
    project = admin.identity.create_project(name=f"after-{secrets.token_hex(3)}")
    admin.identity.delete_project(project)
    done = reaper.wait_for(IdentityRef(IdentityKind.PROJECT, project.id), {TombstoneState.COMPLETE})
    assert done.state is TombstoneState.COMPLETE
    assert reaper.running


def test_a_message_id_too_long_for_postgresql_is_audited_and_the_listener_carries_on(
    testbed_admin: Connection,
    controllers: Callable[..., ControllerProcess],
    bus: Bus,
    pg_url: str,
) -> None:
    """It used to fail its batch's transaction, be requeued and fail again, forever."""
    reaper = controllers(store_url=pg_url).start()
    long_id = f"{uuid.uuid4()}-" + "m" * 300
    forged = IdentityRef(IdentityKind.PROJECT, uuid.uuid4().hex)

    bus.notification("identity.project.deleted", {"resource_info": forged.id}, message_id=long_id)

    (rejected,) = rejections(reaper, 1)
    assert rejected["reaper"]["extra"]["code"] == "bad_field"
    assert rejected["target"]["id"] == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()[:16]
    a_real_deletion_goes_through(testbed_admin, reaper)
    assert reaper.tombstone(forged) is None


def test_every_garbage_message_on_the_bus_is_audited_counted_and_never_acted_on(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess], bus: Bus
) -> None:
    """Of fifty such messages, eighteen used to vanish without a trace (issue 13, item 14)."""
    reaper = controllers().start()
    tag = f"garbage-{secrets.token_hex(4)}"
    sent = garbage.messages(tag)
    for message in sent:
        bus.raw(message.body, message.content_type)

    records = rejections(reaper, len(sent), timeout=120)
    named: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        named.setdefault(record["target"]["id"], []).append(record)
    anonymous = [m for m in sent if m.anonymous]
    assert len(named.get("unknown", [])) == len(anonymous)
    for message in (m for m in sent if not m.anonymous):
        found = [r for ref in message.refs for r in named.get(ref, [])]
        assert len(found) == 1, f"{message.kind}: {len(found)} records"
        (record,) = found
        extra = record["reaper"]["extra"]
        if extra["code"] == "undecodable":
            assert extra["sha256"] == hashlib.sha256(message.body).hexdigest()
            assert extra["size"] == len(message.body)
            assert extra["content_type"] == message.content_type
            assert extra["routing_key"] == "notifications.info"
            assert extra["dead_lettered"] == "rejected" and extra["received_at"]
    undecodable = [r for r in records if r["reaper"]["extra"]["code"] == "undecodable"]
    assert len(undecodable) >= 20
    assert rejected_counted(reaper) == len(records)
    accepted = [
        r
        for r in reaper.audit()
        if r["outcome"] == "success"
        and str((r["reaper"].get("trigger") or {}).get("message_id")).startswith(tag)
    ]
    assert accepted == []
    a_real_deletion_goes_through(testbed_admin, reaper)


def queue_declare(reaper: ControllerProcess) -> subprocess.CompletedProcess[str]:
    """``reaper queue declare`` as a deployment tool runs it, with the controller's config."""
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("reaper")),
            "--config-file",
            str(reaper.conf_path),
            "queue",
            "declare",
        ],
        env=reaper.env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def dead_letter_gauge(reaper: ControllerProcess) -> float:
    started = [
        json.loads(line) for line in reaper.log().splitlines() if "controller started" in line
    ]
    with urllib.request.urlopen(
        f"http://127.0.0.1:{started[-1]['api_port']}/metrics", timeout=10
    ) as response:
        text = response.read().decode()
    (value,) = [
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "reaper_listener_dead_letter"
    ]
    return value


def test_a_queue_an_older_reaper_declared_keeps_working_and_is_upgraded_without_loss(
    testbed_admin: Connection, controllers: Callable[..., ControllerProcess], bus: Bus
) -> None:
    """RabbitMQ refuses to redeclare a queue with a dead-letter exchange it was made without."""
    older = controllers(extra="[listener]\ndead_letter = false\n", name="older")
    assert queue_declare(older).returncode == 0  # the queue as it was before dead-lettering
    reaper = controllers(pool=older.pool).start()
    assert "unlike [listener] dead_letter" in reaper.log()
    assert dead_letter_gauge(reaper) == 0.0
    busy = queue_declare(reaper)
    assert busy.returncode == 1
    assert "consumer(s): stop every reaper-controller" in busy.stderr
    assert reaper.terminate() == 0

    waiting = testbed_admin.identity.create_project(name=f"waiting-{secrets.token_hex(3)}")
    testbed_admin.identity.delete_project(waiting)  # no controller runs: it waits in the queue
    time.sleep(2)
    upgraded = queue_declare(reaper)

    assert upgraded.returncode == 0, upgraded.stderr
    assert f"queue {reaper.pool} converted to dead-lettering on" in upgraded.stderr
    assert "waiting message(s) moved into the new queue" in upgraded.stderr
    assert f"undecodable messages go to {reaper.pool}.dead-letter" in upgraded.stdout
    reaper.start()
    done = reaper.wait_for(IdentityRef(IdentityKind.PROJECT, waiting.id), {TombstoneState.COMPLETE})
    assert done.state is TombstoneState.COMPLETE
    assert dead_letter_gauge(reaper) == 1.0
    body = b"\x00 not a notification " + secrets.token_bytes(16)
    bus.raw(body, "application/x-python-serialize")
    digest = hashlib.sha256(body).hexdigest()
    deadline = time.monotonic() + 60
    while not any(r["reaper"]["extra"].get("sha256") == digest for r in rejections(reaper, 1)):
        assert time.monotonic() < deadline, "the undecodable message was not audited"
        time.sleep(0.5)
