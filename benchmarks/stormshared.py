"""The storm cloud's cloud-wide things: server groups, foreign shared images, users' keypairs.

What issue 18 says per-tenant discovery pays for whatever the tenant:

* ``server_groups`` groups in Nova, listed only cloud-wide (``all_projects``),
  at most 1,000 per answer and **no next link**, paged by ``offset`` as Nova
  does. The last ``projects`` of them belong to the deleted projects (one
  each), so with more than 1,000 groups the deleted projects' groups are past
  the first page: a reader that stops at the first answer misses them;
* ``shared_images`` images in Glance owned by a live project and shared
  (``visibility=shared``); image ``p`` has the deleted project ``p`` as a
  member (the first ``projects`` images), every image a live member too.
  Glance answers 25 images per page without ``limit`` (at most 1,000), a
  ``next`` link while the page is full; members are read per image;
* ``users`` deleted users owning ``keypairs`` keypairs each, read and
  deleted at microversion 2.10 with ``user_id`` (the answer says its
  microversion, as Nova does).

What reaper must remove (the deleted projects' groups and memberships, the
deleted users' keypairs) is counted in :meth:`Shared.left`; every accepted
DELETE of one is counted in the state's ``deletes`` (a second is a duplicate).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from benchmarks.fakecloud import ADMIN_PROJECT

FOREIGN_PROJECT = "f0000000000000000000000000000001"
LIVE_MEMBER = "f0000000000000000000000000000002"
GLANCE_PAGE, GLANCE_MAX, NOVA_MAX = 25, 1000, 1000
MICROVERSION = {"OpenStack-API-Version": "compute 2.10", "X-OpenStack-Nova-API-Version": "2.10"}
STAMP = "2026-01-01T00:00:00Z"


def user_id(i: int) -> str:
    return f"{0xD0 << 120 | i:032x}"


def group_id(g: int) -> str:
    return f"5e000000-0000-4000-8000-{g:012x}"


def image_id(i: int) -> str:
    return f"1a000000-0000-4000-8000-{i:012x}"


class Shared:
    """The cloud-wide resources and who owns them; guarded by the state's lock."""

    def __init__(self, spec: Any, project_id: Any) -> None:
        first = spec.server_groups - spec.projects  # the deleted projects' groups come last
        self.groups: dict[str, str] = {
            group_id(g): project_id(g - first) if g >= first else ADMIN_PROJECT
            for g in range(spec.server_groups)
        }
        self.doomed_groups = {gid for gid, owner in self.groups.items() if owner != ADMIN_PROJECT}
        self.members: dict[str, set[str]] = {
            image_id(i): {LIVE_MEMBER} | ({project_id(i)} if i < spec.projects else set())
            for i in range(spec.shared_images)
        }
        self.images = sorted(self.members)
        self.keypairs: dict[str, set[str]] = {
            user_id(u): {f"key-{k}" for k in range(spec.keypairs)} for u in range(spec.users)
        }
        self.deleted_projects = {project_id(p) for p in range(spec.projects)}

    def left(self) -> int:
        memberships = sum(len(m & self.deleted_projects) for m in self.members.values())
        groups = len(self.doomed_groups & set(self.groups))
        return memberships + groups + sum(len(k) for k in self.keypairs.values())

    # -- answers (lock held by the caller): (status, body, headers) or None ----------

    def answer(
        self, method: str, path: str, query: dict[str, str], deletes: Any
    ) -> tuple[int, str, dict[str, str]] | None:
        if path.startswith("/compute/v2.1/os-server-groups"):
            return self._groups(
                method, path[len("/compute/v2.1/os-server-groups") :], query, deletes
            )
        if path.startswith("/compute/v2.1/os-keypairs"):
            return self._keypairs(method, path[len("/compute/v2.1/os-keypairs") :], query, deletes)
        if path.startswith("/image/v2/images"):
            return self._images(method, path[len("/image/v2/images") :], query, deletes)
        return None

    def _groups(
        self, method: str, rest: str, query: dict[str, str], deletes: Any
    ) -> tuple[int, str, dict[str, str]]:
        if method == "GET" and rest == "":
            offset = int(query.get("offset", 0))
            limit = min(int(query.get("limit", NOVA_MAX)), NOVA_MAX)
            ids = sorted(self.groups)[offset : offset + limit]
            body = [
                {
                    "id": gid,
                    "name": f"group-{gid[-4:]}",
                    "policies": ["anti-affinity"],
                    "members": [],
                    "metadata": {},
                    "project_id": self.groups[gid],
                    "user_id": ADMIN_PROJECT,
                }
                for gid in ids
            ]
            return 200, json.dumps({"server_groups": body}), {}  # no server_groups_links
        gid = rest.lstrip("/")
        if method == "DELETE" and gid in self.groups:
            del self.groups[gid]
            deletes[gid] += 1
            return 204, "", {}
        return 404, '{"itemNotFound": {"code": 404, "message": "no such group"}}', {}

    def _keypairs(
        self, method: str, rest: str, query: dict[str, str], deletes: Any
    ) -> tuple[int, str, dict[str, str]]:
        owner = query.get("user_id", "")
        held = self.keypairs.get(owner, set())
        name = rest.lstrip("/")
        if method == "GET" and not name:
            body = [{"keypair": _keypair(n)} for n in sorted(held)]
            return 200, json.dumps({"keypairs": body}), MICROVERSION
        if name in held and method == "GET":
            return 200, json.dumps({"keypair": {**_keypair(name), "user_id": owner}}), MICROVERSION
        if name in held and method == "DELETE":
            held.discard(name)
            deletes[f"{owner}:{name}"] += 1
            return 204, "", MICROVERSION
        return 404, '{"itemNotFound": {"code": 404, "message": "no such keypair"}}', MICROVERSION

    def _images(
        self, method: str, rest: str, query: dict[str, str], deletes: Any
    ) -> tuple[int, str, dict[str, str]]:
        if method == "GET" and rest == "":
            return 200, json.dumps(self._image_page(query)), {}
        parts = rest.strip("/").split("/")
        if len(parts) >= 2 and parts[1] == "members" and parts[0] in self.members:
            members = self.members[parts[0]]
            if method == "GET" and len(parts) == 2:
                body = [_member(parts[0], m) for m in sorted(members)]
                return 200, json.dumps({"members": body, "schema": "/v2/schemas/members"}), {}
            if method == "DELETE" and len(parts) == 3 and parts[2] in members:
                members.discard(parts[2])
                deletes[f"{parts[0]}:{parts[2]}"] += 1
                return 204, "", {}
        return 404, "<html><body>404 Not Found</body></html>", {}

    def _image_page(self, query: dict[str, str]) -> dict[str, Any]:
        owner = query.get("owner")
        hidden = query.get("os_hidden", "false").lower() == "true"
        chosen: list[str] = []
        if query.get("visibility") in ("shared", "all") and not hidden:
            chosen = [i for i in self.images if owner in (None, FOREIGN_PROJECT)]
        after = query.get("marker") or ""
        limit = min(int(query.get("limit", GLANCE_PAGE)), GLANCE_MAX)
        page = [i for i in chosen if i > after][:limit]
        body: dict[str, Any] = {"images": [_image(i) for i in page], "schema": "/v2/schemas/images"}
        if len(page) == limit:
            more = {k: v for k, v in query.items() if k != "marker"} | {"marker": page[-1]}
            body["next"] = f"/v2/images?{urlencode(more)}"
        return body


def _keypair(name: str) -> dict[str, Any]:
    return {"name": name, "type": "ssh", "fingerprint": "aa:bb", "public_key": "ssh-ed25519 AAAA"}


def _member(image: str, member: str) -> dict[str, Any]:
    return {
        "image_id": image,
        "member_id": member,
        "status": "accepted",
        "created_at": STAMP,
        "updated_at": STAMP,
        "schema": "/v2/schemas/member",
    }


def _image(i: str) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"image-{i[-4:]}",
        "status": "active",
        "visibility": "shared",
        "owner": FOREIGN_PROJECT,
        "os_hidden": False,
        "protected": False,
        "min_disk": 0,
        "min_ram": 0,
        "tags": [],
        "created_at": STAMP,
        "updated_at": STAMP,
        "self": f"/v2/images/{i}",
        "file": f"/v2/images/{i}/file",
        "schema": "/v2/schemas/image",
    }
