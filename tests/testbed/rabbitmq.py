"""The run's own RabbitMQ vhost, managed with ``rabbitmqctl``.

A vhost per run keeps runs apart completely: the services' RPC, and keystone's
notifications, of which ``keystone-manage bootstrap`` alone emits a dozen that would
otherwise sit in (or be drained from) a ``notifications.info`` queue shared with others.
Deleting the vhost at ``down`` also deletes every queue and message the run left.
"""

from __future__ import annotations

import os
import subprocess
import time
from urllib.parse import quote, urlsplit

DEFAULT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


def server_url() -> str:
    """The broker, without a vhost (``REAPER_TESTBED_RABBIT_URL`` overrides)."""
    return os.environ.get("REAPER_TESTBED_RABBIT_URL") or DEFAULT_URL


def vhost_name(run_id: str) -> str:
    return f"reaper-testbed-{run_id}"


def transport_url(server: str, vhost: str) -> str:
    """The oslo.messaging transport URL of ``vhost`` on ``server``."""
    parts = urlsplit(server)
    return f"{parts.scheme}://{parts.netloc}/{quote(vhost, safe='')}"


def _ctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def create(server: str, vhost: str) -> None:
    """Create ``vhost`` and give the URL's user every permission on it."""
    user = urlsplit(server).username or "guest"
    _ctl("add_vhost", vhost)
    _ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")


def delete(vhost: str) -> None:
    """Delete ``vhost`` if it exists (idempotent)."""
    if vhost in existing():
        _ctl("delete_vhost", vhost)


def wait_for_consumer(vhost: str, queue: str, timeout: float = 120) -> None:
    """Wait until ``queue`` exists in ``vhost`` with a consumer.

    An RPC cast to a service whose queue does not exist yet is dropped by the broker, and
    the caller only retries after its RPC timeout; nova-compute's first call to the
    conductor is such a call, so it is started once the conductor consumes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = _ctl("list_queues", "-p", vhost, "--quiet", "--no-table-headers", "name",
                   "consumers", check=False).stdout  # fmt: skip
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[0] == queue and fields[1] != "0":
                return
        time.sleep(0.5)
    raise TimeoutError(f"no consumer on queue {queue} of vhost {vhost} after {timeout:.0f}s")


def existing() -> list[str]:
    out = _ctl("list_vhosts", "--quiet", "--no-table-headers", "name").stdout
    return [line.strip() for line in out.splitlines() if line.strip()]
