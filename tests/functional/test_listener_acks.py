"""On the real broker: a batch is acknowledged in one frame, never before it is persisted.

``acks.py`` acknowledges, with one ``basic.ack(multiple)``, every delivery up
to a batch's last once no earlier one is in flight; here RabbitMQ itself
says what is still unacknowledged while an earlier batch is held back.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import kombu
import oslo_messaging
import pytest

from reaper import config
from reaper.audit.record import Actor
from reaper.audit.trail import AuditTrail
from reaper.cleanup.lifecycle import Reopener
from reaper.events import readahead
from reaper.events.listener import IdentityEndpoint, Listener
from reaper.store import Store
from tests.functional.controller_fixtures import Bus
from tests.functional.test_controller import _close_connections_of
from tests.functional.test_listener_persist import eventually, recorded_once, waiting_in_queue

pytestmark = pytest.mark.functional

BROKER = "rabbit://guest:guest@127.0.0.1:5672/"
COUNT = 24


class HoldingFirst(IdentityEndpoint):
    """Holds the batch that carries ``first`` until ``release`` is set; counts batches done."""

    def __init__(self, store: Store, first: str) -> None:
        trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance("t"))
        super().__init__(store, trail, reopener=Reopener(store))
        self.first = first
        self.holding = threading.Event()
        self.release = threading.Event()
        self.returned: list[int] = []
        self._lock = threading.Lock()

    def info(self, messages: Sequence[dict[str, Any]]) -> Any:
        if any(m["metadata"]["message_id"] == self.first for m in messages):
            self.holding.set()
            assert self.release.wait(60)
        result = super().info(messages)
        assert result == oslo_messaging.NotificationResult.HANDLED
        with self._lock:
            self.returned.append(len(messages))
        return result


@pytest.fixture
def bus_conf(tmp_path: Path) -> Iterator[Any]:
    """A listener of its own exchange and pool, in small batches on four threads."""
    tag = secrets.token_hex(4)
    path = tmp_path / "reaper.conf"
    path.write_text(
        f"[DEFAULT]\ntransport_url = {BROKER}\n"
        f"[listener]\nexchange = acks-{tag}\npool = reaper-acks-{tag}\n"
        "dead_letter = false\nbatch_size = 4\nbatch_timeout = 0.01\nexecutor_threads = 4\n"
    )
    conf = config.make_conf(["--config-file", str(path)], config_files=[])
    yield conf
    with kombu.Connection(BROKER.replace("rabbit://", "amqp://")) as connection:
        channel = connection.channel()
        channel.queue_delete(conf.listener.pool)
        channel.exchange_delete(conf.listener.exchange)


def unacknowledged(conf: Any) -> int:
    """What RabbitMQ says the pool queue has delivered and not had acknowledged."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "messages_unacknowledged"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in listed.splitlines():
        name, _, count = line.partition("\t")
        if name == conf.listener.pool:
            return int(count)
    raise AssertionError(f"no queue {conf.listener.pool}: {listed}")


def test_nothing_after_a_held_batch_is_acknowledged_until_it_is_persisted(
    bus_conf: Any, sqlite_url: str
) -> None:
    store = Store.open(sqlite_url)
    bus = Bus(BROKER, exchange=bus_conf.listener.exchange)
    projects = [uuid.uuid4().hex for _ in range(COUNT)]
    first = str(uuid.uuid4())
    endpoint = HoldingFirst(store, first)
    listener = Listener(bus_conf, endpoint)
    assert listener.start(bound_timeout=30)
    try:
        deleted = "identity.project.deleted"
        held = bus.notification(deleted, {"resource_info": projects[0]}, message_id=first)
        sent = {held: projects[0]}
        assert endpoint.holding.wait(30)  # a batch of its own, delivery tag 1
        for project in projects[1:]:
            sent[bus.notification(deleted, {"resource_info": project})] = project
        # Every later batch persisted and returned: none of them may be acknowledged yet,
        # since one ack of theirs would cover the held batch's deliveries too.
        eventually(lambda: sum(endpoint.returned) == COUNT - 1)
        assert len(store.tombstones.list()) == COUNT - 1
        assert unacknowledged(bus_conf) == COUNT
        endpoint.release.set()
        eventually(lambda: unacknowledged(bus_conf) == 0)
        acks = listener.server.acks
        assert acks.acknowledged == COUNT and acks.frames < COUNT / 2, (acks.frames, COUNT)
        # The real connection is found under the server and reads ahead.
        assert readahead.ensure(listener.server)
    finally:
        endpoint.release.set()
        listener.stop()
    assert waiting_in_queue(bus_conf) == 0
    recorded_once(store, sent)
    store.close()


def test_a_cut_connection_loses_nothing_and_the_new_one_reads_ahead(
    bus_conf: Any, sqlite_url: str
) -> None:
    store = Store.open(sqlite_url)
    bus = Bus(BROKER, exchange=bus_conf.listener.exchange)
    endpoint = HoldingFirst(store, first="none")
    listener = Listener(bus_conf, endpoint)
    assert listener.start(bound_timeout=30)
    deleted = "identity.project.deleted"
    try:
        before = [uuid.uuid4().hex for _ in range(6)]
        for project in before:
            bus.notification(deleted, {"resource_info": project})
        eventually(lambda: len(store.tombstones.list()) == len(before))
        cut = readahead._transport(listener.server)
        assert cut is not None and readahead.ensure(listener.server)

        _close_connections_of(os.getpid())
        after = [uuid.uuid4().hex for _ in range(6)]
        for project in after:
            bus.notification(deleted, {"resource_info": project})
        eventually(lambda: len(store.tombstones.list()) == len(before) + len(after))
        eventually(lambda: unacknowledged(bus_conf) == 0)
        assert readahead._transport(listener.server) is not cut
        assert readahead.ensure(listener.server)
    finally:
        listener.stop()
    assert waiting_in_queue(bus_conf) == 0
    assert sorted(t.identity.id for t in store.tombstones.list()) == sorted(before + after)
    store.close()
