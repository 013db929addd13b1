"""At start, the controller says whether Barbican's keystone listener runs (reaper cannot list
a deleted project's secrets, so that listener is what deletes them).

On the real testbed with Barbican and the machine's RabbitMQ: a controller
configured with the listener's queue reports ``absent`` (log and gauge)
while no listener runs; then the real ``barbican-keystone-listener`` is
started with that pool name, and a controller started after it reports
``running``. ``reaper policy explain`` says the secrets are not covered.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reaper.cli.main import main
from tests.functional.controller_fixtures import Bus, ControllerProcess
from tests.testbed.services import venv_bin

if TYPE_CHECKING:
    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

GAUGE = "reaper_barbican_keystone_listener"


@contextlib.contextmanager
def barbican_keystone_listener(testbed: Testbed, pool: str, workdir: Path) -> Iterator[None]:
    """Barbican's own keystone listener, with the testbed's configuration and ``pool``."""
    source = testbed.run_dir / "etc" / "barbican" / ".barbican" / "barbican.conf"
    parser = configparser.RawConfigParser()
    parser.read(source)
    parser.set("keystone_notifications", "pool_name", pool)
    conf = workdir / "barbican-listener.conf"
    with conf.open("w") as f:
        parser.write(f)
    log = (workdir / "barbican-listener.log").open("wb")
    process = subprocess.Popen(
        [venv_bin(testbed.state, "barbican-keystone-listener"), "--config-file", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_for_consumer(bus: Bus, queue: str, timeout: float = 120.0) -> None:
    import kombu

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), kombu.Connection(bus.url) as conn:
            _, _, consumers = conn.channel().queue_declare(queue=queue, passive=True)
            if consumers:
                return
        time.sleep(1)
    raise AssertionError(f"no consumer on {queue}")


def state_reported(reaper: ControllerProcess, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for state in ("running", "absent", "unknown", "no_barbican"):
            if reaper.metric(GAUGE, state=state) == 1:
                return state
        time.sleep(0.5)
    raise AssertionError(f"no {GAUGE} state:\n{reaper.log()[-3000:]}")


def test_the_controller_reports_whether_barbicans_keystone_listener_runs(
    testbed_more: Testbed,
    controllers: Callable[..., ControllerProcess],
    bus: Bus,
    tmp_path: Path,
) -> None:
    pool = f"barbican-listener-{secrets.token_hex(3)}"
    extra = f"[listener]\nbarbican_listener_queue = {pool}\n"
    try:
        before = controllers(extra=extra, name="before").start()
        assert state_reported(before) == "absent"
        assert f"no queue {pool} on the broker" in before.log()
        assert before.terminate() == 0

        with barbican_keystone_listener(testbed_more, pool, tmp_path):
            wait_for_consumer(bus, pool)
            after = controllers(extra=extra, name="after").start()
            assert state_reported(after) == "running"
            assert after.terminate() == 0
    finally:
        bus.delete_queue(pool)


def test_policy_explain_says_barbican_secrets_are_not_covered() -> None:
    out = io.StringIO()
    argv = ["policy", "explain", "--resource-type", "key_manager.secret", "-f", "json"]
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    (row,) = json.loads(out.getvalue())
    assert row["Actions"].startswith("not covered: Barbican lists only")
