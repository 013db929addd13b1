"""Quarantine resumes: a retried attempt sends only what earlier attempts left undone.

The executor retries a step as a whole; on a flaky cloud, redoing every part
(disassociate, lock, tag, stop) makes each attempt as likely to fail as the
first. The client here records what the action asks of the cloud.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from reaper.actions.quarantine import QUARANTINE_TAG, Quarantine
from reaper.executor import Result
from reaper.model import Resource

SERVER = Resource(type="compute.server", id="srv", status="ACTIVE")


class Client:
    """Nova and Neutron as far as quarantine sees them, recording every mutation."""

    def __init__(self, *, locked: bool, tags: list[str], status: str, task_state: Any) -> None:
        self.calls: list[str] = []
        server = SimpleNamespace(is_locked=locked, tags=tags, status=status, task_state=task_state)
        fip = SimpleNamespace(id="fip")
        self.network = SimpleNamespace(
            ports=lambda device_id: [SimpleNamespace(id="port")],
            ips=lambda port_id: [fip] if "disassociate" not in self.calls else [],
            update_ip=lambda ip, port_id: self.calls.append("disassociate"),
        )
        self.compute = SimpleNamespace(
            get_server=lambda server_id: server,
            lock_server=lambda server_id, locked_reason: self.calls.append("lock"),
            add_tag_to_server=lambda srv, tag: self.calls.append(f"tag {tag}"),
            stop_server=lambda server_id: self.calls.append("stop"),
        )


def test_a_first_attempt_does_every_part() -> None:
    client = Client(locked=False, tags=[], status="ACTIVE", task_state=None)

    attempt = Quarantine().run(client, SERVER, {})

    assert client.calls == ["disassociate", "lock", f"tag {QUARANTINE_TAG}", "stop"]
    assert attempt.result is Result.ACCEPTED


@pytest.mark.parametrize(
    ("status", "task_state", "result"),
    [("ACTIVE", "powering-off", Result.ACCEPTED), ("SHUTOFF", None, Result.DONE)],
)
def test_a_retry_after_everything_but_the_answer_succeeded_sends_nothing(
    status: str, task_state: Any, result: Result
) -> None:
    client = Client(locked=True, tags=[QUARANTINE_TAG], status=status, task_state=task_state)
    client.calls.append("disassociate")  # the floating IP is already off

    attempt = Quarantine().run(client, SERVER, {})

    assert client.calls == ["disassociate"]
    assert attempt.result is result


def test_a_retry_after_the_lock_sends_only_the_tag_and_the_stop() -> None:
    client = Client(locked=True, tags=[], status="ACTIVE", task_state=None)
    client.calls.append("disassociate")

    Quarantine().run(client, SERVER, {})

    assert client.calls == ["disassociate", f"tag {QUARANTINE_TAG}", "stop"]
