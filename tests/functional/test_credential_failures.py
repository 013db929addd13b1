"""Credentials that cannot be used: one line for the operator, and a controller that waits.

``reaper plan`` meets each way credentials fail (an unknown ``auth_type``, a
missing option, an auth URL nothing answers on, a wrong password, a user
without the ``admin`` role) and must exit 1 with one line that says what is
wrong and what to do, and nothing else (``-q``). The controller meets the
same and must keep running, say why on ``/healthz``, count it in
``reaper_keystone_failures_total``, leave the deleted project's tombstone
waiting (no plan, no step) and, where the failure is one Keystone can stop
making (a role granted again, a password set back, Keystone reachable
again), finish the cleanup on its own. All against the testbed's Keystone.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest

from reaper.audit import keys
from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.functional.controller_fixtures import ControllerProcess
from tests.functional.credential_fixtures import ServiceUser
from tests.functional.credential_forms import (
    PASSWORD_NAMES,
    deleted_project,
    documented_forms,
    fill,
    reaper,
    write_conf,
)

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional

#: The controller tries Keystone again at least this often while it fails.
RETRY = "keystone_retry_max_wait = 1\n"
FAILURES = "reaper_keystone_failures_total"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def password_form(user: ServiceUser, **changes: str | None) -> str:
    """install.md's password form for ``user``, with options changed (None: left out)."""
    section = fill(documented_forms()[PASSWORD_NAMES], user)
    for key, value in changes.items():
        line = "" if value is None else f"{key} = {value}\n"
        if re.search(rf"^{key} = ", section, flags=re.M):
            section = re.sub(rf"^{key} = .*\n", line, section, flags=re.M)
        else:
            section += line
    return section


BROKEN: dict[str, tuple[dict[str, str | None], str]] = {
    "unknown auth_type": (
        {"auth_type": "passwrd"},
        "auth_type 'passwrd' is not a keystoneauth plugin: use password or v3applicationcredential",
    ),
    "missing option": (
        {"auth_url": None},
        "[service_credentials] lacks auth_url, required by auth_type = password: set it in ",
    ),
    "system scope": (
        {"project_name": None, "project_domain_name": None, "system_scope": "all"},
        "asks for a system-scoped token, which the services do not accept for what reaper "
        "needs: scope it to a project",
    ),
}


def failures(user: ServiceUser, member: ServiceUser, port: int) -> dict[str, tuple[str, str]]:
    """Each way credentials fail: the [service_credentials] section, and what reaper says."""
    unreachable = f"http://127.0.0.1:{port}/v3"
    cases = {
        name: (password_form(user, **changes), said) for name, (changes, said) in BROKEN.items()
    }
    cases["unreachable auth_url"] = (
        password_form(user, auth_url=unreachable),
        f"cannot reach Keystone at {unreachable} ([service_credentials] of ",
    )
    cases["wrong password"] = (
        password_form(user, password="not-" + user.password),
        f"were rejected by Keystone at {user.auth_url} (401 Unauthorized): check the user",
    )
    cases["no admin role"] = (
        password_form(member),
        "was refused to the user of [service_credentials] of ",
    )
    return cases


CASES = [*BROKEN, "unreachable auth_url", "wrong password", "no admin role"]


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An audit signing key, as install.md configures one (else plan warns of unsigned trails)."""
    path = tmp_path_factory.mktemp("keys") / "audit.pem"
    keys.generate(str(path))
    return path


@pytest.mark.parametrize("case", CASES)
def test_reaper_plan_says_in_one_line_what_is_wrong_and_what_to_do(
    case: str,
    tmp_path: Path,
    signing_key: Path,
    service_user: ServiceUser,
    service_users: Callable[..., ServiceUser],
) -> None:
    member = service_users(role="member") if case == "no admin role" else service_user
    section, said = failures(service_user, member, free_port())[case]
    conf = write_conf(tmp_path, section, signing_key=signing_key)

    run = reaper(
        "-q", "--config-file", str(conf), "plan", "--project", secrets.token_hex(16), home=tmp_path
    )

    assert run.returncode == 1
    # One line about the failure; the rest, if anything, is warnings about other settings
    # that a command which got as far as its store gives (the audit trail's, say).
    (line,) = [x for x in run.stderr.splitlines() if not _a_warning(x)] or [run.stderr]
    assert line.startswith("error: ") and said in line, run.stderr
    assert "Traceback" not in run.stderr
    if case == "no admin role":
        assert "(403 Forbidden): reaper needs the admin role" in line


def _a_warning(line: str) -> bool:
    try:
        return bool(json.loads(line).get("level") == "warning")
    except ValueError:
        return False


# -- the controller --------------------------------------------------------------------------


def eventually(
    what: str, check: Callable[[], Any], controller: ControllerProcess, timeout: float = 120.0
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f}s\n{controller.log()[-3000:]}")
        time.sleep(0.5)


def waits(controller: ControllerProcess, project_id: str, reason: str, said: str) -> None:
    """The project's tombstone waits: recorded, Keystone tried again and refused, nothing planned.

    Deletions of other tests on the shared testbed wait beside it, and the
    controller lets one try in per wait, so it may not have been claimed
    yet; if it was, it says why it waits.
    """
    identity = project(project_id)
    eventually(f"{identity} recorded", lambda: controller.tombstone(identity), controller)
    before = controller.metric(FAILURES, reason=reason)
    eventually(
        f"two more {reason} failures",
        lambda: controller.metric(FAILURES, reason=reason) >= before + 2,
        controller,
    )
    tombstone = controller.tombstone(identity)
    assert tombstone is not None and tombstone.state is TombstoneState.RECEIVED
    assert tombstone.plan_hash is None  # nothing planned, so nothing done
    if tombstone.reason:
        assert tombstone.reason.startswith("waiting for Keystone: ") and said in tombstone.reason


def not_ready_because(controller: ControllerProcess, said: str) -> str:
    def check() -> str | None:
        status, body = controller.healthz()
        return body["checks"]["keystone"] if status == 503 and said in str(body) else None

    return str(eventually(f"/healthz saying {said}", check, controller))


@pytest.mark.parametrize("case", ["unknown auth_type", "missing option"])
def test_a_controller_whose_credentials_cannot_connect_keeps_running_and_says_why(
    case: str,
    testbed_admin: Connection,
    service_user: ServiceUser,
    controllers: Callable[..., ControllerProcess],
) -> None:
    changes, said = BROKEN[case]
    section = password_form(service_user, **changes)
    controller = controllers(
        credentials=section.removeprefix("[service_credentials]\n") + RETRY
    ).start()
    project = testbed_admin.identity.create_project(name=f"creds-{secrets.token_hex(3)}")
    testbed_admin.identity.delete_project(project)

    waits(controller, project.id, "config", said)
    not_ready_because(controller, said)
    assert controller.running


def test_the_controller_waits_while_keystone_refuses_its_user_and_resumes_when_it_accepts(
    testbed_admin: Connection,
    service_users: Callable[..., ServiceUser],
    controllers: Callable[..., ControllerProcess],
) -> None:
    user = service_users()
    section = password_form(user).removeprefix("[service_credentials]\n")
    controller = controllers(credentials=section + RETRY).start()
    identity = testbed_admin.identity
    admin_role = identity.find_role("admin", ignore_missing=False)
    member_role = identity.find_role("member", ignore_missing=False)

    # No admin role any more: Keystone answers 403 (once it no longer honours the
    # controller's token of before, which /healthz shows).
    identity.assign_project_role_to_user(user.project_id, user.user_id, member_role)
    identity.unassign_project_role_from_user(user.project_id, user.user_id, admin_role)
    assert "reaper needs the admin role" in not_ready_because(controller, "403 Forbidden")
    forbidden, _ = deleted_project(testbed_admin, kept=False)
    waits(controller, forbidden, "forbidden", "(403 Forbidden)")

    identity.assign_project_role_to_user(user.project_id, user.user_id, admin_role)
    done = controller.wait_for(project(forbidden), {TombstoneState.COMPLETE})
    assert done.plan_hash is not None

    # The password changed in Keystone, not in reaper.conf: Keystone answers 401.
    identity.update_user(user.user_id, password="changed-" + user.password)
    not_ready_because(controller, "401 Unauthorized")
    unauthorized, _ = deleted_project(testbed_admin, kept=False)
    waits(controller, unauthorized, "unauthorized", "(401 Unauthorized)")

    identity.update_user(user.user_id, password=user.password)
    controller.wait_for(project(unauthorized), {TombstoneState.COMPLETE})
    eventually("/healthz ready again", lambda: controller.healthz()[0] == 200, controller)
    assert controller.running


def test_the_controller_waits_while_keystone_is_unreachable_and_resumes_when_it_answers(
    testbed_admin: Connection,
    service_user: ServiceUser,
    controllers: Callable[..., ControllerProcess],
) -> None:
    keystone = urlparse(service_user.auth_url)
    with Forwarder((keystone.hostname or "127.0.0.1", keystone.port or 80)) as forwarder:
        auth_url = f"http://127.0.0.1:{forwarder.port}{keystone.path}"
        section = password_form(service_user, auth_url=auth_url)
        controller = controllers(
            credentials=section.removeprefix("[service_credentials]\n") + RETRY
        ).start()
        project_id, _ = deleted_project(testbed_admin, kept=False)

        waits(controller, project_id, "unreachable", f"cannot reach Keystone at {auth_url}")
        not_ready_because(controller, f"cannot reach Keystone at {auth_url}")

        forwarder.open()
        done = controller.wait_for(project(project_id), {TombstoneState.COMPLETE})
        assert done.plan_hash is not None
        assert controller.running


def project(project_id: str) -> IdentityRef:
    return IdentityRef(IdentityKind.PROJECT, project_id)


class Forwarder:
    """A local port that refuses connections until :meth:`open`, then forwards them to Keystone."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._stop = threading.Event()

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()

    def open(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.5)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
