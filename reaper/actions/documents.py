"""Evidence that is a document: what a Swift container held, what a Heat stack was.

A volume is cloned and a server imaged (:mod:`reaper.actions.evidence`), but
what an investigation needs of a container or a stack is what it was, and
neither can be copied as a whole. So before either is deleted, its evidence
is written as one JSON document into reaper's *own* Swift account (container
:data:`CONTAINER`), which, like the other copies, belongs to reaper's project
and outlives the deleted one:

* a container: its metadata and ACLs, and for every object its name, size,
  hash, content type, last change and metadata (one HEAD each), not its
  content;
* a stack: the stack as Heat shows it (status, parameters with hidden ones
  masked by Heat, outputs), its template and its events. Outputs may carry
  generated secrets, so values under a secret-looking key (an output's
  ``output_key`` included) are masked as in the logs (:func:`reaper.log.redact`).

The document is labelled with its source, its step and its retention date
(``X-Object-Meta-Reaper-Evidence-*``), and Swift deletes it when the
retention ends (``X-Delete-At``). One document per step: it is named after
the step (:func:`~reaper.actions.evidence.copy_name`) and an attempt that
finds it, labelled with that step, writes nothing; a rewrite would only
replace it. Without an object store there is nowhere to keep it: the step
fails with that reason, and the deletion that waits for it does not run.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from openstack import exceptions as sdk_exc

from reaper import log
from reaper.actions.base import StepKey
from reaper.executor import Attempt, Fatal, Result
from reaper.inventory import orchestration
from reaper.inventory.object_store import container_url
from reaper.model import Resource

#: The container of reaper's own account that holds evidence documents.
CONTAINER = "reaper-evidence"
#: Object metadata headers of a document (Swift keeps X-Object-Meta-*).
META = "X-Object-Meta-Reaper-Evidence-"
#: Objects listed per request.
PAGE = 1000
#: Concurrent HEADs of a container's objects.
WORKERS = 8
#: Response headers of an object worth keeping (besides its X-Object-Meta-*).
OBJECT_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "etag",
        "last-modified",
        "x-timestamp",
        "x-delete-at",
        "x-object-manifest",
        "x-static-large-object",
        "x-symlink-target",
        "content-disposition",
        "content-encoding",
    }
)
#: Container headers worth keeping (besides X-Container-Meta-*).
CONTAINER_HEADERS = frozenset(
    {
        "x-container-object-count",
        "x-container-bytes-used",
        "x-container-read",
        "x-container-write",
        "x-storage-policy",
        "x-versions-location",
        "x-history-location",
        "x-timestamp",
    }
)


def keep(
    conn: Any,
    resource: Resource,
    step: StepKey,
    labels: Mapping[str, str],
    until: dt.datetime,
    name: str,
) -> Attempt:
    """Write ``resource``'s evidence document as ``name`` unless its step wrote it already."""
    if not conn.has_service("object-store"):
        raise Fatal(
            f"no object store to keep the evidence of {resource.type} {resource.id} in: "
            "reaper keeps container and stack evidence in its own Swift account"
        )
    own = str(conn.object_store.get_endpoint()).rstrip("/")
    url = f"{own}/{CONTAINER}/{name}"
    found = conn.object_store.head(url, raise_exc=False)
    step_label = quote(str(step), safe="/:")
    if found.status_code == 200 and _header(found, META + "Step") == step_label:
        return Attempt(Result.DONE, f"object {CONTAINER}/{name} (written before)")
    document = COLLECTORS[resource.type](conn, resource)
    document["reaper"] = {**labels, "taken_at": _now().isoformat()}
    made = conn.object_store.put(f"{own}/{CONTAINER}", raise_exc=False)
    sdk_exc.raise_from_response(made)
    headers = {
        "Content-Type": "application/json",
        "X-Delete-At": str(int(until.timestamp())),
        META + "Of": quote(f"{resource.type}:{resource.id}", safe="/:"),
        META + "Step": step_label,
    }
    body = json.dumps(log.redact(document), sort_keys=True, default=str).encode()
    written = conn.object_store.put(url, data=body, headers=headers, raise_exc=False)
    sdk_exc.raise_from_response(written)
    return Attempt(Result.DONE, f"object {CONTAINER}/{name} ({len(body)} bytes)")


def container_document(conn: Any, r: Resource) -> dict[str, Any]:
    """A container's metadata and every object's listing entry and metadata."""
    project_id = str(r.attributes.get("project_id") or r.project_id)
    container = str(r.attributes.get("name") or r.name)
    url = container_url(conn, project_id, container)
    listing: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    marker = ""
    while True:
        params = {"format": "json", "limit": str(PAGE), **({"marker": marker} if marker else {})}
        response = conn.object_store.get(url, params=params, raise_exc=False)
        sdk_exc.raise_from_response(response)
        if not headers:
            headers = _kept(response.headers, CONTAINER_HEADERS, "x-container-meta-")
        page = response.json() if response.status_code == 200 and response.content else []
        listing.extend(page)
        if len(page) < PAGE:
            break
        marker = page[-1].get("name") or page[-1].get("subdir") or ""

    def described(entry: dict[str, Any]) -> dict[str, Any]:
        if "name" not in entry:
            return entry  # a pseudo-directory of a delimited listing: nothing to HEAD
        head = conn.object_store.head(f"{url}/{quote(entry['name'], safe='')}", raise_exc=False)
        if head.status_code == 404:
            return {**entry, "gone": True}
        sdk_exc.raise_from_response(head)
        return {**entry, "headers": _kept(head.headers, OBJECT_HEADERS, "x-object-meta-")}

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        objects = list(pool.map(described, listing))
    return {
        "container": {"project_id": project_id, "name": container, "headers": headers},
        "objects": objects,
    }


def stack_document(conn: Any, r: Resource) -> dict[str, Any]:
    """A stack as Heat shows it (outputs included), its template and its events."""
    heat = conn.orchestration
    path = orchestration.stack_path(r)
    stack = orchestration.get(heat, path).get("stack") or {}
    stack.pop("links", None)
    # An output is {output_key, output_value}: masked by the name of its key.
    stack["outputs"] = [
        {**o, "output_value": log.redact(o.get("output_value"), str(o.get("output_key")))}
        if isinstance(o, Mapping)
        else o
        for o in stack.get("outputs") or ()
    ]
    template = orchestration.get(heat, f"{path}/template")
    events: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        params: dict[str, Any] = {"limit": orchestration.PAGE, "sort_dir": "asc"}
        if marker:
            params["marker"] = marker
        page = orchestration.get(heat, f"{path}/events", **params).get("events") or []
        events.extend({k: v for k, v in e.items() if k != "links"} for e in page)
        if len(page) < orchestration.PAGE:
            break
        marker = page[-1]["id"]
    return {"stack": stack, "template": template, "events": events}


COLLECTORS: Mapping[str, Callable[[Any, Resource], dict[str, Any]]] = {
    "object_store.container": container_document,
    orchestration.STACK.name: stack_document,
}


def _kept(headers: Mapping[str, str], names: frozenset[str], prefix: str) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {k: v for k, v in sorted(lowered.items()) if k in names or k.startswith(prefix)}


def _header(response: Any, name: str) -> str | None:
    return {k.lower(): v for k, v in response.headers.items()}.get(name.lower())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
