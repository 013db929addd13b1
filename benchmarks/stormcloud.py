"""A fake cloud for the storm benchmark: deletions, asynchronous ones, and 429s when crowded.

Keystone (a token with the catalog of :mod:`benchmarks.fakecloud`), Nova,
Cinder and Neutron, each holding ``servers``/``volumes``/``ports`` for
``projects`` projects (and Nova's and Glance's cloud-wide things of
:mod:`benchmarks.stormshared`), listed per project (``?project_id=``) and deleted
one by one: a server or volume disappears ``async_delete`` seconds after
its DELETE was accepted (202/204), a port at once. Every answer waits
``latency`` seconds first.

Each service accepts at most ``capacity`` requests at once, as a rate
limiter in front of a real API does: the request over it is answered 429
with ``Retry-After: retry_after`` (in seconds, or as an HTTP date with
``http_date``), without being served. The server is the witness of what
reached it (``GET /_stats``): requests and 429s per service, the most
requests in flight at once per service, DELETEs per resource (a second
accepted DELETE of one resource is a duplicate step start), the times at
which each service was throttled and next asked, and what is left.
"""

from __future__ import annotations

import collections
import dataclasses
import email.utils
import json
import multiprocessing
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from benchmarks.fakecloud import ADMIN_PROJECT, _version_document
from benchmarks.fakecloud import Handler as PagesHandler
from benchmarks.stormshared import Shared

KINDS = {
    # kind -> (service, list path, key, async)
    "servers": ("compute", "/compute/v2.1/servers", "servers", True),
    "volumes": ("block_storage", f"/volume/v3/{ADMIN_PROJECT}/volumes", "volumes", True),
    "ports": ("network", "/network/v2.0/ports", "ports", False),
}
SERVICE_OF_PREFIX = {
    "/compute": "compute",
    "/volume": "block_storage",
    "/network": "network",
    "/image": "image",
    "/identity": "identity",
}


@dataclasses.dataclass(frozen=True)
class StormSpec:
    projects: int = 40
    servers: int = 2
    volumes: int = 2
    ports: int = 2
    latency: float = 0.05
    async_delete: float = 2.0
    #: Requests a service serves at once; more are answered 429.
    capacity: int = 8
    retry_after: float = 1.0
    http_date: bool = False
    #: Cloud-wide things (benchmarks.stormshared): Nova's groups, Glance's foreign shared
    #: images, deleted users and their keypairs.
    server_groups: int = 0
    shared_images: int = 0
    users: int = 0
    keypairs: int = 1


def project_id(i: int) -> str:
    return f"{0xC0 << 120 | i:032x}"


def resource_id(kind: str, project: int, n: int) -> str:
    return f"{list(KINDS).index(kind):08x}-0000-4000-8000-{project:08x}{n:04x}"


class State:
    """What the cloud holds and what it has seen (one lock)."""

    def __init__(self, spec: StormSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        #: kind -> project -> {id: deleted_at (None while present)}
        self.items: dict[str, dict[str, dict[str, float | None]]] = {}
        for kind in KINDS:
            count = getattr(spec, kind)
            self.items[kind] = {
                project_id(p): {resource_id(kind, p, n): None for n in range(count)}
                for p in range(spec.projects)
            }
        self.shared = Shared(spec, project_id)
        self.active: collections.Counter[str] = collections.Counter()
        #: Requests arriving at once, those answered 429 included.
        self.offered: collections.Counter[str] = collections.Counter()
        self.reset()

    def reset(self) -> None:
        """Forget what was seen so far (the controllers' setup), not what is held (lock held)."""
        self.peak: collections.Counter[str] = collections.Counter(self.active)
        self.offered_peak: collections.Counter[str] = collections.Counter(self.offered)
        self.requests: collections.Counter[str] = collections.Counter()
        #: Requests served, per (service, what): "list", "delete", "delete 404", "other".
        self.served: collections.Counter[tuple[str, str]] = collections.Counter()
        self.throttled: collections.Counter[str] = collections.Counter()
        self.deletes: collections.Counter[str] = collections.Counter()
        #: Seconds between a 429 and the next request the service served, the shortest.
        self.gap_after_429: dict[str, float] = {}
        self.last_429: dict[str, tuple[float, float]] = {}

    def enter(self, service: str) -> bool:
        with self.lock:
            self.requests[service] += 1
            self.offered[service] += 1
            self.offered_peak[service] = max(self.offered_peak[service], self.offered[service])
            if service != "identity" and self.active[service] >= self.spec.capacity:
                self.throttled[service] += 1
                self.last_429[service] = (time.monotonic(), self.spec.retry_after)
                return False
            self.active[service] += 1
            self.peak[service] = max(self.peak[service], self.active[service])
            seen = self.last_429.pop(service, None)
            if seen is not None:
                gap = time.monotonic() - seen[0]
                self.gap_after_429[service] = min(self.gap_after_429.get(service, gap), gap)
            return True

    def count(self, service: str, method: str, path: str, status: int) -> None:
        """What a served request was, for the breakdown of requests per resource."""
        if method == "DELETE":
            what = "delete" if status != 404 else "delete 404"
        elif method == "GET" and (
            any(path in (p, p + "/detail") for _, p, _, _ in KINDS.values())
            or path.endswith(("/os-server-groups", "/os-keypairs", "/images", "/members"))
        ):
            what = "list"
        else:
            what = "other"
        with self.lock:
            self.served[(service, what)] += 1

    def leave(self, service: str, *, served: bool = True) -> None:
        with self.lock:
            self.offered[service] -= 1
            if served:
                self.active[service] -= 1

    def listing(self, kind: str, project: str) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self.lock:
            held = self.items[kind].get(project, {})
            return [
                {"id": rid, "project_id": project, "tenant_id": project, "status": "ACTIVE"}
                for rid, gone_at in held.items()
                if gone_at is None or gone_at > now
            ]

    def delete(self, kind: str, rid: str) -> int:
        project = project_id(int(rid[-12:-4], 16))
        now = time.monotonic()
        with self.lock:
            held = self.items[kind].get(project, {})
            if rid not in held or (held[rid] is not None and held[rid] <= now):
                return 404
            if held[rid] is None:
                self.deletes[rid] += 1
                delay = self.spec.async_delete if KINDS[kind][3] else 0.0
                held[rid] = now + delay
            else:  # accepted before, still going: a second DELETE of the same resource
                self.deletes[rid] += 1
            return 202 if KINDS[kind][3] else 204

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self.lock:
            left = self.shared.left() + sum(
                1
                for kind in self.items.values()
                for held in kind.values()
                for gone_at in held.values()
                if gone_at is None or gone_at > now
            )
            return {
                "requests": dict(self.requests),
                "served": {f"{s} {what}": n for (s, what), n in self.served.items()},
                "throttled": dict(self.throttled),
                "peak": dict(self.peak),
                "offered_peak": dict(self.offered_peak),
                "duplicates": sum(n - 1 for n in self.deletes.values() if n > 1),
                "deleted": len(self.deletes),
                "left": left,
                "gap_after_429": self.gap_after_429,
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, *args: Any) -> None:
        pass

    def _service(self, path: str) -> str:
        for prefix, service in SERVICE_OF_PREFIX.items():
            if path.startswith(prefix):
                return service
        return "other"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        if parts.path == "/_stats":
            return self._send(200, json.dumps(self.state.stats()))
        if parts.path == "/_reset":
            with self.state.lock:
                self.state.reset()
            return self._send(200, "{}")
        service = self._service(parts.path)
        if not self.state.enter(service):
            time.sleep(self.state.spec.latency / 5)
            self.state.leave(service, served=False)
            return self._throttle()
        try:
            time.sleep(self.state.spec.latency)
            status, body, headers = self._answer(method, parts.path, dict(parse_qsl(parts.query)))
            self.state.count(service, method, parts.path, status)
        finally:  # before the answer leaves: a client may send its next request at once
            self.state.leave(service)
        self._send(status, body, headers)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _throttle(self) -> None:
        spec = self.state.spec
        if spec.http_date:
            value = email.utils.formatdate(time.time() + spec.retry_after, usegmt=True)
        else:
            value = f"{spec.retry_after:g}"
        body = '{"message": "Too many requests", "code": 429}'
        self._send(429, body, {"Retry-After": value})

    def _answer(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[int, str, dict[str, str]]:
        base = f"http://{self.headers['Host']}"
        if method == "POST" and path.rstrip("/").endswith("/auth/tokens"):
            token = PagesHandler._token(self)  # type: ignore[arg-type]
            return 201, json.dumps(token), {"X-Subject-Token": "tok"}
        with self.state.lock:
            shared = self.state.shared.answer(method, path, query, self.state.deletes)
        if shared is not None:
            return shared
        for kind, (_, prefix, key, _) in KINDS.items():
            if method == "GET" and path in (prefix, prefix + "/detail"):
                items = self.state.listing(kind, query.get("project_id", ""))
                return 200, json.dumps({key: items}), {}
            match = re.fullmatch(re.escape(prefix) + r"/([0-9a-f-]+)", path)
            if match and method == "DELETE":
                status = self.state.delete(kind, match.group(1))
                return status, "" if status != 404 else '{"message": "gone"}', {}
        doc = _version_document(base, path)
        if method == "GET" and doc is not None:
            return 200, json.dumps(doc), {}
        return 404, '{"error": {"code": 404, "title": "Not Found", "message": "no"}}', {}

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def _serve(spec: StormSpec, ready: Any) -> None:
    handler = type("H", (Handler,), {"state": State(spec)})
    server = _Server(("127.0.0.1", 0), handler)
    ready.send(server.server_address[1])
    server.serve_forever()


class StormCloud:
    """The fake cloud in a child process: ``with StormCloud(spec) as cloud: cloud.url``."""

    def __init__(self, spec: StormSpec) -> None:
        self.spec = spec
        self.process: multiprocessing.Process | None = None
        self.url = ""

    def __enter__(self) -> StormCloud:
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

    def stats(self) -> dict[str, Any]:
        import requests

        return requests.get(f"{self.url}/_stats", timeout=30).json()

    def reset(self) -> None:
        """Forget the counters (not what the cloud holds): what follows is measured alone."""
        import requests

        requests.post(f"{self.url}/_reset", timeout=30).raise_for_status()

    def auth(self) -> dict[str, str]:
        from benchmarks.fakecloud import FakeCloud

        return FakeCloud.auth(self)  # type: ignore[arg-type]
