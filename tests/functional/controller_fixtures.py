"""Running ``reaper-controller`` for real against the testbed, and talking on its bus.

``controllers`` starts controllers as subprocesses (the way operators run
them), each with its own listener pool (so tests never compete for each
other's notifications), on a SQLite store of the test's or a PostgreSQL URL,
and waits for "controller started" (the listener queue is bound by then).
``bus`` publishes on the testbed's Keystone exchange exactly what
oslo.messaging's notifier would, or raw bytes nothing could decode.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import kombu
import pytest
import requests

from reaper import config
from reaper.audit.repository import AuditRepository
from reaper.model import IdentityRef, Tombstone, TombstoneState
from reaper.store import Store
from tests.testbed import Testbed

__all__ = ["Bus", "ControllerProcess", "bus", "controllers"]

READY = "controller started"


class ControllerProcess:
    def __init__(self, workdir: Path, conf_path: Path, env: dict[str, str], pool: str) -> None:
        self.workdir = workdir
        self.conf_path = conf_path
        self.env = env
        self.pool = pool
        self.log_path = workdir / "controller.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._store: Store | None = None

    def start(self, timeout: float = 120.0) -> ControllerProcess:
        with self.log_path.open("ab") as log_file:
            offset = self.log_path.stat().st_size
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("reaper-controller")),
                    "--config-file",
                    str(self.conf_path),
                ],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while READY not in self.log()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"controller did not start:\n{self.log()[-4000:]}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 120.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def store(self) -> Store:
        if self._store is None:
            conf = config.make_conf(["--config-file", str(self.conf_path)], config_files=[])
            self._store = Store.from_conf(conf)
        return self._store

    def tombstone(self, identity: IdentityRef) -> Tombstone | None:
        return self.store.tombstones.find(identity)

    def wait_for(
        self,
        identity: IdentityRef,
        states: set[TombstoneState],
        timeout: float = 240.0,
    ) -> Tombstone:
        deadline = time.monotonic() + timeout
        found = None
        while time.monotonic() < deadline:
            found = self.tombstone(identity)
            if found is not None and found.state in states:
                return found
            time.sleep(0.5)
        raise AssertionError(
            f"{identity} did not reach {sorted(s.value for s in states)}: {found}\n"
            f"{self.log()[-3000:]}"
        )

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in AuditRepository(self.store.db).records()]

    @property
    def api_url(self) -> str:
        """Where this run serves /healthz and /metrics (``[api] port = 0``: any free port)."""
        ports = re.findall(r'"api_port": (\d+)', self.log())
        assert ports, f"no api_port in the log:\n{self.log()[-2000:]}"
        return f"http://127.0.0.1:{ports[-1]}"

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: its HTTP status and JSON body."""
        answer = requests.get(self.api_url + "/healthz", timeout=30)
        return answer.status_code, answer.json()

    def metric(self, name: str, **labels: str) -> float:
        """The value /metrics serves for ``name`` with exactly ``labels`` (0 if absent)."""
        text = requests.get(self.api_url + "/metrics", timeout=30).text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        series = f"{name}{{{wanted}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0


def _amqp_url(transport_url: str) -> str:
    return "amqp://" + transport_url.split("://", 1)[1]


class Bus:
    """Publishes on the testbed's ``keystone`` exchange, as Keystone's notifier does.

    ``exchange`` and ``durable`` name another exchange, as a listener configured with
    its own ``[listener] exchange`` (and ``amqp_durable_queues``) declares it.
    """

    def __init__(
        self, transport_url: str, *, exchange: str = "keystone", durable: bool = False
    ) -> None:
        self.url = _amqp_url(transport_url)
        self.exchange = exchange
        self.durable = durable

    def _publish(self, body: bytes | str, content_type: str = "application/json") -> None:
        with kombu.Connection(self.url) as conn:
            exchange = kombu.Exchange(self.exchange, type="topic", durable=self.durable)
            producer = conn.Producer()
            producer.publish(
                body,
                exchange=exchange,
                routing_key="notifications.info",
                content_type=content_type,
                content_encoding="utf-8",
                declare=[exchange],
            )

    def notification(self, event_type: str, payload: Any, **overrides: Any) -> str:
        """An oslo.messaging 2.0 envelope, as keystone's messagingv2 driver sends."""
        message_id = overrides.pop("message_id", str(uuid.uuid4()))
        message = {
            "message_id": message_id,
            "publisher_id": "identity.forger",
            "event_type": event_type,
            "priority": "INFO",
            "payload": payload,
            "timestamp": "2026-11-26 12:00:00.000000",
            **overrides,
        }
        envelope = {"oslo.version": "2.0", "oslo.message": json.dumps(message)}
        self._publish(json.dumps(envelope))
        return message_id

    def raw(self, body: bytes, content_type: str = "application/json") -> None:
        self._publish(body, content_type)

    def delete_queue(self, name: str) -> None:
        with kombu.Connection(self.url) as conn:
            conn.channel().queue_delete(name)

    def delete_pool(self, pool: str) -> None:
        """A listener pool's queue and its dead-letter exchange and queue, if declared."""
        for queue in (pool, f"{pool}.dead-letter"):
            with contextlib.suppress(Exception):  # never declared: nothing to delete
                self.delete_queue(queue)
        with contextlib.suppress(Exception), kombu.Connection(self.url) as conn:
            conn.channel().exchange_delete(f"{pool}.dead-letter")


@pytest.fixture
def bus(testbed: Testbed) -> Bus:
    return Bus(testbed.transport_url)


@pytest.fixture
def controllers(
    testbed: Testbed, tmp_path: Path, bus: Bus
) -> Iterator[Callable[..., ControllerProcess]]:
    """Make controllers; see ``make`` for the knobs (store, pool, extra config, dry-run)."""
    made: list[ControllerProcess] = []

    def make(
        store_url: str | None = None,
        pool: str | None = None,
        extra: str = "",
        name: str | None = None,
        dry_run: bool = False,
        credentials: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ControllerProcess:
        """A controller (not started); ``credentials`` replaces [service_credentials]'s body."""
        workdir = tmp_path / (name or f"controller-{len(made)}")
        workdir.mkdir(exist_ok=True)
        pool = pool or f"reaper-test-{secrets.token_hex(4)}"
        conf_path = workdir / "reaper.conf"
        conf_path.write_text(
            "[DEFAULT]\n"
            f"transport_url = {testbed.transport_url}\n"
            f"state_path = {workdir}\n"
            f"host = {name or workdir.name}\n"
            f"dry_run = {str(dry_run).lower()}\n"
            "poll_interval = 0.5\n"
            "[listener]\n"
            f"pool = {pool}\n"
            "[service_credentials]\n"
            + (credentials if credentials is not None else f"cloud = {testbed.cloud_name}\n")
            + "[api]\n"
            "port = 0\n"
            "[sweep]\n"
            "enabled = false\n"
            "[executor]\n"
            "confirm_interval = 0.5\n"
            + (f"[store]\nconnection = {store_url}\n" if store_url else "")
            + extra
        )
        # No OS_* variable of the test runner's: the credentials are the config file's.
        environ = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        environ |= {"OS_CLIENT_CONFIG_FILE": str(testbed.clouds_yaml), **(env or {})}
        process = ControllerProcess(workdir, conf_path, environ, pool)
        made.append(process)
        return process

    yield make
    for process in made:
        if process.running:
            process.kill()
        if process._store is not None:
            process._store.close()
    for pool in {p.pool for p in made}:
        bus.delete_pool(pool)
