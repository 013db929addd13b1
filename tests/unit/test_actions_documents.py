"""Container and stack evidence: one document per step, in reaper's own Swift account."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest

from reaper.actions.base import StepKey
from reaper.actions.documents import CONTAINER
from reaper.actions.evidence import EvidenceSnapshot, copy_name
from reaper.executor import Fatal, Result
from reaper.model import Resource

OWN = "http://swift/v1/AUTH_reaper"
THEIRS = "http://swift/v1/AUTH_p1"
STEP = StepKey("plan-hash", "evidence_snapshot:object_store.container:box")
BOX = Resource(
    type="object_store.container",
    id="box",
    name="box",
    project_id="p1",
    attributes={"name": "box", "project_id": "p1"},
)
STACK = Resource(
    type="orchestration.stack", id="s-1", name="web", project_id="p1", attributes={"name": "web"}
)


class Answer:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        self.status_code = status
        self._body = body
        self.headers = headers or {}
        self.content = b"x" if body is not None else b""

    def json(self) -> Any:
        return self._body


class Swift:
    """A Swift that holds the deleted project's container and reaper's own account."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.puts: list[str] = []

    def get_endpoint(self) -> str:
        return OWN

    def head(self, url: str, raise_exc: bool = False) -> Answer:
        if url in self.objects:
            return Answer(200, headers=self.objects[url][1])
        if url.startswith(f"{THEIRS}/box/"):
            name = url.rsplit("/", 1)[1]
            return Answer(200, headers={"Etag": "e", "X-Object-Meta-Colour": name})
        return Answer(404)

    def get(self, url: str, params: Any = None, raise_exc: bool = False) -> Answer:
        assert url == f"{THEIRS}/box", url
        return Answer(
            200,
            [{"name": "a.txt", "bytes": 3}, {"name": "b.txt", "bytes": 4}],
            {"X-Container-Meta-Owner": "team", "X-Container-Read": ".r:*"},
        )

    def put(self, url: str, data: bytes = b"", headers: Any = None, raise_exc: bool = False):
        self.puts.append(url)
        if url != f"{OWN}/{CONTAINER}":
            self.objects[url] = (data, dict(headers or {}))
        return Answer(201)


class Heat:
    def get(self, path: str, params: Any = None) -> Answer:
        if path.endswith("/template"):
            return Answer(200, {"heat_template_version": "2021-04-16", "resources": {}})
        if path.endswith("/events"):
            return Answer(200, {"events": [{"id": "ev-1", "resource_status": "CREATE_COMPLETE"}]})
        return Answer(
            200,
            {
                "stack": {
                    "id": "s-1",
                    "stack_status": "CREATE_COMPLETE",
                    "outputs": [{"output_key": "admin_password", "output_value": "hunter2"}],
                    "links": [],
                }
            },
        )


def cloud(swift: bool = True) -> Any:
    store = Swift()
    return types.SimpleNamespace(
        object_store=store,
        orchestration=Heat(),
        current_project_id="reaper",
        has_service=lambda kind: swift or kind != "object-store",
    )


def document(conn: Any, step: StepKey = STEP) -> tuple[dict[str, Any], dict[str, str]]:
    body, headers = conn.object_store.objects[f"{OWN}/{CONTAINER}/{copy_name(step)}.json"]
    return json.loads(body), headers


def test_a_containers_listing_and_object_metadata_are_kept_not_its_contents() -> None:
    conn = cloud()

    attempt = EvidenceSnapshot().run(conn, BOX, {"retention": "90d"}, STEP)

    assert attempt.result is Result.DONE
    kept, headers = document(conn)
    assert kept["container"]["headers"]["x-container-meta-owner"] == "team"
    assert kept["container"]["headers"]["x-container-read"] == ".r:*"
    assert [o["name"] for o in kept["objects"]] == ["a.txt", "b.txt"]
    assert kept["objects"][0]["headers"]["x-object-meta-colour"] == "a.txt"
    assert headers["X-Object-Meta-Reaper-Evidence-Of"] == "object_store.container:box"
    assert int(headers["X-Delete-At"]) > 0


def test_a_step_that_wrote_its_document_writes_nothing_again() -> None:
    conn = cloud()
    EvidenceSnapshot().run(conn, BOX, {"retention": "90d"}, STEP)
    written = list(conn.object_store.puts)

    again = EvidenceSnapshot().run(conn, BOX, {"retention": "90d"}, STEP)

    assert again.result is Result.DONE and "written before" in again.detail
    assert conn.object_store.puts == written


def test_a_stacks_template_outputs_and_events_are_kept_with_secrets_masked() -> None:
    conn = cloud()
    step = StepKey("plan-hash", "evidence_snapshot:orchestration.stack:s-1")

    EvidenceSnapshot().run(conn, STACK, {"retention": "90d"}, step)

    kept, _ = document(conn, step)
    assert kept["template"]["heat_template_version"] == "2021-04-16"
    assert [e["id"] for e in kept["events"]] == ["ev-1"]
    (output,) = kept["stack"]["outputs"]
    assert output["output_key"] == "admin_password"
    assert "hunter2" not in json.dumps(kept)


def test_without_an_object_store_the_evidence_step_fails_and_says_why() -> None:
    with pytest.raises(Fatal, match="no object store"):
        EvidenceSnapshot().run(cloud(swift=False), BOX, {"retention": "90d"}, STEP)
