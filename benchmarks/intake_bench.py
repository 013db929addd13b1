"""Intake: notifications drained and persisted as tombstones, beside a raw listener.

``python -m benchmarks.intake_bench [--count 10000]``

In a RabbitMQ vhost of its own, both queues are bound first (reaper's pool
queue and a raw listener's), then ``--count`` ``identity.project.deleted``
notifications are published through oslo.messaging's own notifier (the
``messagingv2`` driver Keystone uses, on exchange ``keystone``), so each
queue holds the same messages. Then, in the same process and run:

* **raw**: a no-op oslo.messaging notification listener (threading
  executor, its own pool) drains its copy;
* **reaper**: the controller's intake (``events.listener``: batch listener,
  parse, dedupe, tombstones and ``receive`` audit records persisted in the
  embedded SQLite store before acknowledging) drains its copy.

Each is timed from the listener's start until the last message is handled
(raw) or persisted (reaper). Target (issue 18): reaper >= 1.0x the raw rate.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import tempfile
import threading
import time
import uuid
from typing import Any

import oslo_messaging

from reaper import config, log
from reaper.audit.trail import AuditTrail
from reaper.cleanup.lifecycle import Reopener
from reaper.events.listener import IdentityEndpoint, Listener
from reaper.store import Store

BROKER = "rabbit://guest:guest@127.0.0.1:5672/"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)


class Counting:
    """The raw baseline's endpoint: counts and returns."""

    def __init__(self, target: int) -> None:
        self.count = 0
        self.target = target
        self.done = threading.Event()
        self.lock = threading.Lock()

    def info(
        self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any, metadata: Any
    ) -> None:
        with self.lock:
            self.count += 1
            if self.count >= self.target:
                self.done.set()


def make_conf(vhost: str, state_path: str, pool: str) -> Any:
    conf = config.make_conf([], config_files=[])
    conf.set_override("state_path", state_path)
    oslo_messaging.get_notification_transport(conf)  # registers the messaging options
    conf.set_override("transport_url", f"{BROKER}{vhost}")
    conf.set_override("pool", pool, group="listener")
    conf.set_override("control_exchange", "keystone")
    return conf


def publish(conf: Any, count: int) -> float:
    transport = oslo_messaging.get_notification_transport(conf)
    notifier = oslo_messaging.Notifier(
        transport, publisher_id="identity.bench", driver="messagingv2", topics=["notifications"]
    )
    started = time.perf_counter()
    for _ in range(count):
        notifier.info(
            {},
            "identity.project.deleted",
            {"resource_info": uuid.uuid4().hex, "request_id": f"req-{uuid.uuid4()}"},
        )
    elapsed = time.perf_counter() - started
    transport.cleanup()
    return elapsed


def run(count: int) -> dict[str, float]:
    vhost = f"reaper-bench-{secrets.token_hex(3)}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    workdir = tempfile.mkdtemp(prefix="reaper-intake-")
    try:
        conf = make_conf(vhost, workdir, "reaper-bench")
        store = Store.from_conf(conf)
        trail = AuditTrail.from_conf(store, conf)
        persisted = Counting(count)

        class Endpoint(IdentityEndpoint):
            def persist(self, messages: Any) -> None:
                super().persist(messages)
                with persisted.lock:
                    persisted.count += len(messages)
                    if persisted.count >= persisted.target:
                        persisted.done.set()

        reaper_listener = Listener(conf, Endpoint(store, trail, reopener=Reopener(store)))
        raw = Counting(count)
        raw_conf = make_conf(vhost, workdir, "raw-bench")
        raw_transport = oslo_messaging.get_notification_transport(raw_conf)
        raw_listener = oslo_messaging.get_notification_listener(
            raw_transport,
            [oslo_messaging.Target(exchange="keystone", topic="notifications")],
            [raw],
            executor="threading",
            pool="raw-bench",
        )
        # Bind both queues, then stop consuming, so both receive every message.
        raw_listener.start()
        reaper_listener.start()
        raw_listener.stop()
        raw_listener.wait()
        reaper_listener.server.stop()
        reaper_listener.server.wait()

        publish_seconds = publish(conf, count)
        print(f"published {count} notifications in {publish_seconds:.1f}s", flush=True)

        started = time.perf_counter()
        raw_listener.start()
        raw.done.wait(600)
        raw_seconds = time.perf_counter() - started
        raw_listener.stop()
        raw_listener.wait()

        started = time.perf_counter()
        reaper_listener.server.start()
        persisted.done.wait(600)
        reaper_seconds = time.perf_counter() - started
        reaper_listener.stop()
        raw_transport.cleanup()
        tombstones = sum(store.tombstones.counts().values())
        store.close()
        return {
            "count": count,
            "raw_seconds": raw_seconds,
            "raw_rate": raw.count / raw_seconds,
            "reaper_seconds": reaper_seconds,
            "reaper_rate": persisted.count / reaper_seconds,
            "tombstones": tombstones,
        }
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args(argv)
    log.setup(level="WARNING")
    result = run(args.count)
    ratio = result["reaper_rate"] / result["raw_rate"]
    print(f"{'listener':<28}{'seconds':>10}{'msgs/s':>10}")
    raw_line = f"{'raw oslo.messaging (no-op)':<28}{result['raw_seconds']:>10.1f}"
    print(f"{raw_line}{result['raw_rate']:>10.0f}")
    print(
        f"{'reaper intake (persisted)':<28}{result['reaper_seconds']:>10.1f}"
        f"{result['reaper_rate']:>10.0f}"
    )
    print(f"ratio reaper/raw: {ratio:.2f} (target >= 1.00); tombstones: {result['tombstones']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
