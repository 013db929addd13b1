"""Keypairs: whose they are is what Nova says of each one, at a microversion that can say it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from reaper.inventory import keypairs
from reaper.inventory.base import Scope
from reaper.inventory.compute import ComputeInventory
from reaper.model import IdentityKind, IdentityRef

DELETED = "d" * 32
REAPER = "r" * 32


def answer(status: int, body: Any, version: str | None = "2.10") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    if version:
        response.headers["OpenStack-API-Version"] = f"compute {version}"
    response.url = "http://nova/v2.1/os-keypairs"
    return response


class Nova:
    """Keypairs by owner; answers like Nova at 2.10, or like one that ignores user_id.

    ``caller`` is whose keypairs a Nova below 2.10 returns whatever user is named.
    """

    def __init__(self, owned: dict[str, list[str]], *, version: str = "2.10") -> None:
        self.owned = owned
        self.version = version
        self.caller = REAPER
        self.failing: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []

    def get_endpoint_data(self) -> None:
        return None

    def servers(self, **_: Any) -> list[Any]:
        return []

    def request(self, url: str, method: str, microversion: str | None = None) -> Any:
        self.requests.append((method, url, microversion))
        parts = urlsplit(url)
        user = parse_qs(parts.query)["user_id"][0]
        if not keypairs.honours_user_id(self.version):
            user = self.caller  # user_id ignored: the caller's own
        segments = parts.path.strip("/").split("/")
        if len(segments) == 1:
            listing = [{"keypair": {"name": n}} for n in self.owned.get(user, [])]
            return answer(200, {"keypairs": listing}, self.version)
        name = segments[1]
        if name in self.failing:
            return answer(500, {"computeFault": {"message": "boom"}}, self.version)
        if name not in self.owned.get(user, []):
            return answer(404, {"itemNotFound": {"message": "no such keypair"}}, self.version)
        body = {"keypair": {"name": name, "user_id": user, "public_key": "ssh-ed25519 AAA"}}
        return answer(200, body, self.version)


def test_the_answers_microversion_is_read_from_either_header() -> None:
    assert keypairs.answered_at({"OpenStack-API-Version": "compute 2.10"}) == "2.10"
    assert keypairs.answered_at({"X-OpenStack-Nova-API-Version": "2.12"}) == "2.12"
    assert keypairs.answered_at({}) is None


@pytest.mark.parametrize(
    ("version", "honours"),
    [("2.10", True), ("2.93", True), ("3.0", True), ("2.9", False), ("2.1", False), (None, False)],
)
def test_only_an_answer_at_2_10_or_later_was_filtered_by_user(version, honours) -> None:
    assert keypairs.honours_user_id(version) is honours


def test_every_request_is_pinned_and_each_keypair_is_fetched_again_by_its_owner() -> None:
    nova = Nova({DELETED: ["laptop", "ci"], REAPER: ["reaper-own"]})

    found, errors = keypairs.owned_by(nova, DELETED)

    assert errors == []
    assert [(k["name"], k["user_id"]) for k in found] == [("ci", DELETED), ("laptop", DELETED)]
    assert {mv for _, _, mv in nova.requests} == {"2.10"}
    fetched = sorted(url for _, url, _ in nova.requests if url.startswith("/os-keypairs/"))
    assert fetched == [
        f"/os-keypairs/ci?user_id={DELETED}",
        f"/os-keypairs/laptop?user_id={DELETED}",
    ]


def test_a_nova_that_ignores_user_id_makes_the_keypairs_uninspected_not_reapers() -> None:
    nova = Nova({DELETED: ["laptop"], REAPER: ["reaper-own"]}, version="2.1")

    found, errors = keypairs.owned_by(nova, DELETED)

    assert found == []
    assert len(errors) == 1 and "not inspected" in errors[0] and "2.1" in errors[0]


def test_a_keypair_whose_owner_cannot_be_confirmed_is_left_out_and_said() -> None:
    nova = Nova({DELETED: ["laptop", "ci"]})
    nova.failing.add("ci")

    found, errors = keypairs.owned_by(nova, DELETED)

    assert [k["name"] for k in found] == ["laptop"]
    assert len(errors) == 1 and "'ci'" in errors[0] and "owner not confirmed" in errors[0]


def test_a_keypair_nova_says_is_someone_elses_is_dropped_by_the_owner_check() -> None:
    class Liar(Nova):
        """Lists the deleted user's keypair, but says on its own that it is reaper's."""

        def request(self, url: str, method: str, microversion: str | None = None) -> Any:
            response = super().request(url, method, microversion)
            if "/os-keypairs/" in url and response.status_code == 200:
                body = response.json()
                body["keypair"]["user_id"] = REAPER
                response._content = json.dumps(body).encode()
            return response

    nova = Liar({DELETED: ["laptop"]})
    conn = type("Conn", (), {"compute": nova})()

    finding = ComputeInventory().discover(conn, Scope.of(IdentityRef(IdentityKind.USER, DELETED)))

    assert [r for r in finding.resources if r.type == "compute.keypair"] == []
    assert [r.user_id for r in finding.mismatches] == [REAPER]


def test_the_compute_inventory_reports_keypair_errors_as_its_own() -> None:
    nova = Nova({DELETED: ["laptop"]}, version="2.9")
    conn = type("Conn", (), {"compute": nova})()

    finding = ComputeInventory().discover(conn, Scope.of(IdentityRef(IdentityKind.USER, DELETED)))

    assert finding.resources == ()
    assert len(finding.errors) == 1 and "not inspected" in finding.errors[0]
