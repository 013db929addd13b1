"""Only Keystone's own 404 means "gone": the real ``verify`` against a real local HTTP server.

Issue 13, item 7. The server plays Keystone (version document, token, the
identity asked about, reaper's own project and user) or something in front
of it (a web server's 404 page); openstacksdk and keystoneauth talk to it
over HTTP exactly as they talk to Keystone, and the function deciding is the
production one.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import openstack.connection
import pytest
from keystoneauth1 import session
from keystoneauth1.identity import v3

from reaper.cleanup import batchverify
from reaper.cleanup.verify import IdentityState, VerificationError, verify
from reaper.model import IdentityKind, IdentityRef
from tests.unit import localkeystone

ASKED = IdentityRef(IdentityKind.PROJECT, "a" * 32)
OWN_PROJECT, OWN_USER = "b" * 32, "c" * 32
OWN_LISTING = f"/v3/users/{OWN_USER}/projects"
KEYSTONE_404 = {"error": {"code": 404, "title": "Not Found", "message": "Could not find project"}}


class Script:
    """What the server answers for the asked id, and whether it knows reaper's account."""

    def __init__(self) -> None:
        self.asked: tuple[int, str, bytes] = (
            404,
            "application/json",
            json.dumps(KEYSTONE_404).encode(),
        )
        self.knows_reaper = True
        #: Set: the answer to reaper's own user's project listing, as (status, body).
        self.own_listing: tuple[int, Any] | None = None
        self.paths: list[str] = []


def handler(script: Script) -> type[localkeystone.Keystone]:
    class Handler(localkeystone.Keystone):
        region = "R"
        project: ClassVar[dict[str, Any]] = {
            "id": OWN_PROJECT,
            "name": "service",
            "domain": {"id": "d"},
        }
        user: ClassVar[dict[str, Any]] = {"id": OWN_USER, "name": "reaper", "domain": {"id": "d"}}

        def do_GET(self) -> None:
            script.paths.append(self.path)
            path = self.path.rstrip("/")
            if self.version_document(path):
                return None
            if path == f"/v3/projects/{ASKED.id}":
                code, kind, body = script.asked
                return self.send(code, body, kind)
            if path == OWN_LISTING and script.own_listing is not None:
                return self.send(*script.own_listing)
            if path == OWN_LISTING and script.knows_reaper:
                projects = [{"id": "e" * 32, "name": "other"}, {"id": OWN_PROJECT, "name": "x"}]
                return self.send(200, {"projects": projects, "links": {"next": None}})
            own = {f"/v3/projects/{OWN_PROJECT}": "project", f"/v3/users/{OWN_USER}": "user"}
            if path in own and script.knows_reaper:
                return self.send(200, {own[path]: {"id": path.rsplit("/", 1)[1], "name": "x"}})
            return self.send(404, KEYSTONE_404)

    return Handler


@contextlib.contextmanager
def connected(keystone: type[http.server.BaseHTTPRequestHandler]) -> Iterator[Any]:
    """An openstacksdk connection as reaper's own account to ``keystone``, served meanwhile."""
    with localkeystone.serve(keystone) as address:
        auth = v3.Password(
            auth_url=address + "/v3",
            username="reaper",
            password="secret",
            project_id=OWN_PROJECT,
            user_domain_id="d",
        )
        yield openstack.connection.Connection(session=session.Session(auth=auth), region_name="R")


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def conn(script: Script) -> Iterator[Any]:
    with connected(handler(script)) as conn:
        yield conn


def test_keystones_own_404_with_reapers_account_found_means_gone(conn: Any, script: Script):
    """The witness is one request: reaper's own user's projects, its own project among them."""
    assert verify(conn, ASKED).state is IdentityState.GONE
    asked = [p for p in script.paths if p.rstrip("/") not in ("", "/v3")]
    assert sorted(asked) == sorted([f"/v3/projects/{ASKED.id}", OWN_LISTING])


KEYSTONE_403 = {"error": {"code": 403, "title": "Forbidden", "message": "not allowed"}}
KEYSTONE_500 = {"error": {"code": 500, "title": "Internal Server Error", "message": "boom"}}


@pytest.mark.parametrize(
    "listing",
    [
        pytest.param((404, KEYSTONE_404), id="own-user-missing"),
        pytest.param((403, KEYSTONE_403), id="forbidden"),
        pytest.param((500, KEYSTONE_500), id="server-error"),
        pytest.param((200, {"project": {"id": OWN_PROJECT}}), id="not-a-listing"),
    ],
)
def test_a_witness_that_does_not_list_reapers_own_project_cannot_say(
    conn: Any, script: Script, listing: tuple[int, Any]
) -> None:
    """Every failure of the one witness request fails closed: Keystone's 404 is not "gone"."""
    script.own_listing = listing
    with pytest.raises(VerificationError, match="reaper's own project and user"):
        verify(conn, ASKED)


@pytest.mark.parametrize(
    "listing",
    [
        pytest.param({"projects": [{"id": "e" * 32}], "truncated": True}, id="cut-short"),
        pytest.param({"projects": [{"id": "e" * 32}], "links": {"next": None}}, id="not-listed"),
        pytest.param({"projects": [], "links": {"next": None}}, id="no-project-listed"),
    ],
)
def test_a_listing_without_reapers_project_asks_the_own_project_by_id(
    conn: Any, script: Script, listing: dict[str, Any]
) -> None:
    """A 200 proves the user, not the project: it is read by id, and must be found.

    Cut short by Keystone's list limit, or a role the assignments do not show
    (a federation mapping's group): never stricter than the two reads were.
    """
    script.own_listing = (200, listing)
    assert verify(conn, ASKED).state is IdentityState.GONE
    assert f"/v3/projects/{OWN_PROJECT}" in script.paths
    script.knows_reaper = False
    with pytest.raises(VerificationError, match="reaper's own project and user"):
        verify(conn, ASKED)


def test_a_web_servers_404_page_is_not_gone(conn: Any, script: Script) -> None:
    script.asked = (404, "text/html", b"<html><body>404 Not Found</body><hr>nginx</html>")
    with pytest.raises(VerificationError, match="not Keystone's own answer"):
        verify(conn, ASKED)


def test_a_404_with_another_services_error_shape_is_not_gone(conn: Any, script: Script):
    script.asked = (404, "application/json", json.dumps({"message": "Not Found"}).encode())
    with pytest.raises(VerificationError, match="not Keystone's own answer"):
        verify(conn, ASKED)


def test_a_keystone_that_does_not_know_reapers_own_account_cannot_say(conn: Any, script: Script):
    """Restored from an old backup, another region's: its 404 proves nothing."""
    script.knows_reaper = False
    with pytest.raises(VerificationError, match="reaper's own project and user"):
        verify(conn, ASKED)


def test_the_sweeps_batch_asks_once_per_owner_and_witnesses_once(conn: Any, script: Script):
    """The sweep's many owners: one GET each, reaper's own account read before and after."""
    owners = [IdentityRef(IdentityKind.PROJECT, f"{n:032x}") for n in range(1, 6)]
    settled = batchverify.verify_gone(conn, owners)
    assert all(not isinstance(a, VerificationError) and a.gone for a in settled.values())
    asked = [p for p in script.paths if p.startswith("/v3/projects/")]
    assert sorted(set(asked) - {f"/v3/projects/{OWN_PROJECT}"}) == [
        f"/v3/projects/{o.id}" for o in owners
    ]
    assert f"/v3/projects/{OWN_PROJECT}" not in asked
    assert f"/v3/users/{OWN_USER}" not in script.paths
    assert script.paths.count(OWN_LISTING) == 2  # before the batch and after it


def test_the_sweeps_batch_to_a_keystone_without_reapers_account_says_nothing_is_gone(
    conn: Any, script: Script
) -> None:
    script.knows_reaper = False
    settled = batchverify.verify_gone(conn, [ASKED])
    assert isinstance(settled[ASKED], VerificationError)
    assert f"/v3/projects/{ASKED.id}" not in script.paths


def test_the_witness_is_asked_beside_the_identity_not_after_it(script: Script) -> None:
    """One round trip to Keystone, not two: the 404 is held until the witness has asked.

    A verify that asks reaper's own account only after the 404 never sends
    it while the 404 is held, and the held request ends in a 503.
    """
    both = threading.Event()

    class Holding(handler(script)):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            if self.path.rstrip("/") == f"/v3/projects/{ASKED.id}" and not both.wait(10):
                return self.send(503, {"error": {"code": 503, "title": "x", "message": "held"}})
            super().do_GET()
            if OWN_LISTING in script.paths:
                both.set()

    with connected(Holding) as conn:
        assert verify(conn, ASKED).state is IdentityState.GONE
