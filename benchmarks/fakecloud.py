"""A fake cloud for the sweep benchmark: Keystone, Nova, Cinder, Neutron and Glance pages.

A threaded HTTP server in a process of its own (so its CPU and memory are
not the measured reader's) that openstacksdk and keystoneauth talk to as to
a real cloud: a password token with a service catalog, version discovery
documents, and cloud-wide listings of ``R`` resources owned by ``P``
projects (and one user each), generated on demand page by page, in each
API's own JSON (field names, next links) and at each service's default page
size when the client asks for none: Nova and Cinder 1,000, Glance 25,
Neutron everything in one answer (``pagination_max_limit`` unset), Keystone
everything. ``limit`` is honoured up to 1,000 (Neutron: as asked; Keystone
as keystone 30 does, with ``marker``, every full page ``truncated`` and
linking the next). Every answer waits ``latency`` seconds first.

The first ``gone`` projects (and their users) are absent from Keystone
(404, in Keystone's error JSON); their resources remain. The server counts
requests and the largest answer per endpoint (``GET /_stats``, reset with
``POST /_reset``; neither is counted).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from benchmarks.fakeitems import template

ADMIN_PROJECT = "ad000000000000000000000000000001"
ADMIN_USER = "ad000000000000000000000000000002"
DOMAIN = "default"


@dataclasses.dataclass(frozen=True)
class Spec:
    resources: int = 100_000
    projects: int = 1_000
    #: Fraction of projects (and users) deleted from Keystone, their resources left behind.
    gone_fraction: float = 0.05
    latency: float = 0.05

    @property
    def gone(self) -> int:
        return int(self.projects * self.gone_fraction)


def project_id(i: int) -> str:
    return f"{0xA0 << 120 | i:032x}"


def user_id(i: int) -> str:
    return f"{0xB0 << 120 | i:032x}"


#: kind -> (service prefix, path, key, share of R, default page, max page, link style)
KINDS: dict[str, tuple[str, str, str, float, int | None, int | None, str]] = {
    "servers": ("/compute/v2.1", "/servers/detail", "servers", 0.15, 1000, 1000, "nova"),
    "volumes": (
        "/volume/v3/" + ADMIN_PROJECT,
        "/volumes/detail",
        "volumes",
        0.15,
        1000,
        1000,
        "nova",
    ),
    "snapshots": (
        "/volume/v3/" + ADMIN_PROJECT,
        "/snapshots/detail",
        "snapshots",
        0.10,
        1000,
        1000,
        "nova",
    ),
    "networks": ("/network/v2.0", "/networks", "networks", 0.05, None, None, "nova"),
    "ports": ("/network/v2.0", "/ports", "ports", 0.30, None, None, "nova"),
    "floatingips": ("/network/v2.0", "/floatingips", "floatingips", 0.10, None, None, "nova"),
    "routers": ("/network/v2.0", "/routers", "routers", 0.05, None, None, "nova"),
    "images": ("/image/v2", "/images", "images", 0.10, 25, 1000, "glance"),
}


#: The filters for "changed since" (Nova, Cinder/Glance, Neutron): nothing here changes.
CHANGED = {"changes-since", "updated_at", "changed_since"}


class World:
    """What the fake cloud holds, computed from the spec: nothing is stored per resource."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        #: The server's own URL, for Keystone's absolute next links.
        self.base = ""
        self.templates = {kind: template(kind) for kind in KINDS}
        self.counts: dict[str, int] = {}
        left = spec.resources
        for n, (kind, (_, _, _, share, *_)) in enumerate(KINDS.items()):
            self.counts[kind] = left if n == len(KINDS) - 1 else int(spec.resources * share)
            left -= self.counts[kind]

    def item(self, kind: str, n: int) -> str:
        owner = (n * 7919 + len(kind)) % self.spec.projects
        kind_no = list(KINDS).index(kind)
        rid = f"{kind_no:08x}-0000-4000-8000-{n:012x}"
        return self.templates[kind] % {"i": rid, "p": project_id(owner), "u": user_id(owner)}

    def page(self, kind: str, query: dict[str, str], base: str) -> str:
        prefix, path, key, _, default, most, style = KINDS[kind]
        total = self.counts[kind]
        start = int(query["marker"][-12:], 16) + 1 if "marker" in query else 0
        asked = int(query["limit"]) if "limit" in query else default
        size = total if asked is None else min(asked, most or asked)
        end = min(start + size, total)
        if CHANGED.intersection(query):
            end = start  # asked what changed lately: every resource here is as old as CREATED
        items = ",".join(self.item(kind, n) for n in range(start, end))
        body = f'{{"{key}": [{items}]'
        if asked is not None and size and end - start == size:
            following = {**query, "limit": str(size), "marker": self._id(kind, end - 1)}
            if style == "glance":
                body += f', "next": "/v2{path}?{urlencode(following)}"'
            else:
                href = f"{base}{prefix}{path}?{urlencode(following)}"
                body += f', "{key}_links": [{{"rel": "next", "href": "{href}"}}]'
        return body + "}"

    def _id(self, kind: str, n: int) -> str:
        return f"{list(KINDS).index(kind):08x}-0000-4000-8000-{n:012x}"

    def identities(self, key: str, query: dict[str, str] | None = None) -> str:
        spec = self.spec
        if key == "domains":
            rows = [{"id": DOMAIN, "name": "Default", "enabled": True}]
        elif key == "projects":
            rows = [_project(ADMIN_PROJECT, "admin")] + [
                _project(project_id(i), f"project-{i}") for i in range(spec.gone, spec.projects)
            ]
        else:
            rows = [_user(ADMIN_USER, "admin")] + [
                _user(user_id(i), f"user-{i}") for i in range(spec.gone, spec.projects)
            ]
        links: dict[str, Any] = {"self": f"/v3/{key}", "next": None, "previous": None}
        body: dict[str, Any] = {key: rows, "links": links}
        query = query or {}
        if "limit" in query:
            limit = min(int(query["limit"]), 1000)
            start = 0
            if "marker" in query:
                start = next(n for n, row in enumerate(rows) if row["id"] == query["marker"]) + 1
            body[key] = page = rows[start : start + limit]
            if len(page) == limit:
                following = urlencode({**query, "limit": limit, "marker": page[-1]["id"]})
                links["next"] = f"{self.base}/identity/v3/{key}?{following}"
                body["truncated"] = True
        return json.dumps(body)

    def alive(self, kind: str, ident: str) -> dict[str, Any] | None:
        if ident in (ADMIN_PROJECT, ADMIN_USER):
            return _project(ident, "admin") if kind == "projects" else _user(ident, "admin")
        try:
            i = int(ident, 16) & ((1 << 120) - 1)
        except ValueError:
            return None
        if not self.spec.gone <= i < self.spec.projects:
            return None
        if kind == "projects" and ident == project_id(i):
            return _project(ident, f"project-{i}")
        if kind == "users" and ident == user_id(i):
            return _user(ident, f"user-{i}")
        return None


def _project(pid: str, name: str) -> dict[str, Any]:
    return {
        "id": pid,
        "name": name,
        "domain_id": DOMAIN,
        "enabled": True,
        "is_domain": False,
        "parent_id": DOMAIN,
        "description": "",
        "tags": [],
        "options": {},
        "links": {"self": f"/v3/projects/{pid}"},
    }


def _user(uid: str, name: str) -> dict[str, Any]:
    return {
        "id": uid,
        "name": name,
        "domain_id": DOMAIN,
        "enabled": True,
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"/v3/users/{uid}"},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    world: World
    stats: dict[str, list[int]]
    lock: threading.Lock

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/_reset":
            with self.lock:
                self.stats.clear()
            return self._send(200, "{}")
        time.sleep(self.world.spec.latency)
        if self.path.rstrip("/").endswith("/auth/tokens"):
            self._count("POST /identity/v3/auth/tokens", 0)
            return self._send(201, json.dumps(self._token()), {"X-Subject-Token": "tok"})
        self._send(404, '{"error": {"code": 404, "title": "Not Found", "message": "no"}}')

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/_stats":
            with self.lock:
                return self._send(200, json.dumps(self.stats))
        time.sleep(self.world.spec.latency)
        query = dict(parse_qsl(parts.query))
        status, body, endpoint, items = self._answer(parts.path, query)
        self._count(f"GET {endpoint}", len(body), items)
        self._send(status, body)

    def _answer(self, path: str, query: dict[str, str]) -> tuple[int, str, str, int]:
        base = f"http://{self.headers['Host']}"
        world = self.world
        for kind, (prefix, kpath, *_rest) in KINDS.items():
            if path == prefix + kpath:
                body = world.page(kind, query, base)
                return 200, body, prefix.split("/")[1] + kpath, body.count('"created')
        match = re.fullmatch(r"/identity/v3/(projects|users|domains)(?:/([^/]+))?", path)
        if match and match.group(2) is None:
            world.base = base
            body = world.identities(match.group(1), query)
            return 200, body, f"identity{path[9:]}", body.count('"domain_id"') or 1
        if match:
            found = world.alive(match.group(1), match.group(2))
            endpoint = f"identity/v3/{match.group(1)}/{{id}}"
            if found is None:
                missing = {
                    "error": {"code": 404, "title": "Not Found", "message": "Could not find."}
                }
                return 404, json.dumps(missing), endpoint, 0
            return 200, json.dumps({match.group(1)[:-1]: found}), endpoint, 1
        doc = _version_document(base, path)
        if doc is not None:
            return 200, json.dumps(doc), "version discovery", 0
        return 404, '{"error": {"code": 404, "title": "Not Found", "message": "no"}}', "other", 0

    def _token(self) -> dict[str, Any]:
        base = f"http://{self.headers['Host']}"
        domain = {"id": DOMAIN, "name": "Default"}

        def entry(kind: str, url: str) -> dict[str, Any]:
            return {
                "type": kind,
                "name": kind,
                "id": kind,
                "endpoints": [
                    {
                        "id": f"{kind}-{i}",
                        "interface": i,
                        "region": "RegionOne",
                        "region_id": "RegionOne",
                        "url": url,
                    }
                    for i in ("public", "internal", "admin")
                ],
            }

        return {
            "token": {
                "methods": ["password"],
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2026-01-01T00:00:00.000000Z",
                "audit_ids": ["a"],
                "user": {
                    "id": ADMIN_USER,
                    "name": "admin",
                    "domain": domain,
                    "password_expires_at": None,
                },
                "project": {"id": ADMIN_PROJECT, "name": "admin", "domain": domain},
                "roles": [{"id": "r-admin", "name": "admin"}],
                "is_domain": False,
                "catalog": [
                    entry("identity", f"{base}/identity"),
                    entry("compute", f"{base}/compute/v2.1"),
                    entry("block-storage", f"{base}/volume/v3/{ADMIN_PROJECT}"),
                    entry("volumev3", f"{base}/volume/v3/{ADMIN_PROJECT}"),
                    entry("network", f"{base}/network"),
                    entry("image", f"{base}/image"),
                ],
            }
        }

    def _count(self, endpoint: str, size: int, items: int = 0) -> None:
        with self.lock:
            row = self.stats.setdefault(endpoint, [0, 0, 0])
            row[0] += 1
            row[1] = max(row[1], size)
            row[2] = max(row[2], items)

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def _version_document(base: str, path: str) -> dict[str, Any] | None:
    """The root and version documents keystoneauth reads to find each API."""
    path = path.rstrip("/")

    def version(vid: str, href: str, status: str = "CURRENT", **more: str) -> dict[str, Any]:
        return {
            "id": vid,
            "status": status,
            "updated": "2026-01-01T00:00:00Z",
            "links": [{"rel": "self", "href": href}],
            **more,
        }

    identity = version("v3.14", f"{base}/identity/v3/", "stable")
    compute = version("v2.1", f"{base}/compute/v2.1/", version="2.96", min_version="2.1")
    volume = version("v3.0", f"{base}/volume/v3/", version="3.71", min_version="3.0")
    network = version("v2.0", f"{base}/network/v2.0/")
    image = version("v2.16", f"{base}/image/v2/")
    docs: dict[str, dict[str, Any]] = {
        "/identity": {"versions": {"values": [identity]}},
        "/identity/v3": {"version": identity},
        "/compute": {"versions": [compute]},
        "/compute/v2.1": {"version": compute},
        "/volume": {"versions": [volume]},
        "/volume/v3": {"version": volume},
        f"/volume/v3/{ADMIN_PROJECT}": {"version": volume},
        "/network": {"versions": [network]},
        "/network/v2.0": {"resources": []},
        "/image": {"versions": [image]},
        "/image/v2": {"versions": [image]},
    }
    return docs.get(path)


def _serve(spec: Spec, ready: Any) -> None:
    lock = threading.Lock()
    handler = type("H", (Handler,), {"world": World(spec), "stats": {}, "lock": lock})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    ready.send(server.server_address[1])
    server.serve_forever()


class FakeCloud:
    """The fake cloud in a child process: ``with FakeCloud(spec) as cloud: cloud.url``."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.process: multiprocessing.Process | None = None
        self.url = ""

    def __enter__(self) -> FakeCloud:
        ctx = multiprocessing.get_context("fork")
        mine, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(self.spec, theirs), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{mine.recv()}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(5)

    def stats(self) -> dict[str, tuple[int, int, int]]:
        """Endpoint -> (requests, largest answer in bytes, most items in one answer)."""
        import requests

        got = requests.get(f"{self.url}/_stats", timeout=30).json()
        return {k: tuple(v) for k, v in got.items()}  # type: ignore[misc]

    def reset(self) -> None:
        import requests

        requests.post(f"{self.url}/_reset", timeout=30)

    def auth(self) -> dict[str, str]:
        return {
            "auth_url": f"{self.url}/identity/v3",
            "username": "admin",
            "password": "secret",
            "project_name": "admin",
            "user_domain_id": DOMAIN,
            "project_domain_id": DOMAIN,
        }
