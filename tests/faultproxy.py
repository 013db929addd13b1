"""A fault-injecting reverse proxy between reaper and a real cloud's services.

reaper's promises under a misbehaving cloud (retries that are bounded and
audited, dry-runs and plans that send no mutation, nothing that bypasses the
admin session) can only be checked from the services' side: reaper's own
request counter is what is being tested, so it cannot be the witness. This
proxy is the witness. It listens on one localhost port per upstream service
(keystone, nova, cinder, neutron, glance), forwards every request unchanged
(``Host`` included, so the services build the links and version documents
they return with the proxy's address, and clients stay behind it), and can:

* add latency to every request (``Faults.latency``), to see what concurrency
  buys against a slow cloud;
* answer a fraction of requests with a fault instead of the service
  (``Faults.rate`` and ``Faults.kinds``): HTTP 500/503, 409 Conflict, 429
  with ``Retry-After``, a connection reset before the service sees the
  request, or a lost answer (the service acted, the client gets a reset or
  a 503), only for the chosen methods (``Faults.methods``);
* force an answer on requests matching a method and a path pattern
  (``Rule``), e.g. a 403 on every image deletion, to make one step fail for
  good;
* drop request headers on requests matching a path pattern (``Strip``), as
  a service or a proxy in front of it that never sees them would: without
  its microversion header, Nova answers at 2.1.

Fault decisions are deterministic for a seed: whether the *n*-th request
with a given method and path shape is faulted, and how, depends only on
(seed, service, method, shape, n), where the shape is the path and query
with ids (UUIDs, 32-hex project ids) blanked. So the same scenario meets
the same faults on every run, although the cloud gives its objects new ids
each time; only which of several same-shaped concurrent requests is the
*n*-th depends on thread scheduling. Token requests
(``POST .../auth/tokens``) are never faulted unless ``Faults.tokens`` says
so: a token request is authentication, not an API call of the cloud, and
keystoneauth does not retry it, so faulting it tests keystoneauth rather
than reaper.

Every request is recorded (:class:`Seen`: service, method, path, status,
fault, timing), so tests count what really reached the services.

Dependency-free: ``http.server`` and ``http.client`` from the standard
library, one keep-alive upstream connection per proxy thread, so the
no-latency overhead is a fraction of a millisecond per request.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.client
import http.server
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

#: Methods that change something in a cloud (HEAD, GET and OPTIONS do not).
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The default set of methods faults apply to: mutations and reads.
FAULTED_METHODS = MUTATING | {"GET"}
#: Fault kinds. ``reset``: the connection is reset before the service sees the
#: request. ``lost-reset``/``lost-503``: the service handled the request, and the
#: client gets a reset or a 503 instead of its answer.
KINDS = ("500", "503", "409", "429", "reset", "lost-reset", "lost-503")
#: Kinds that never reach the service.
BEFORE_UPSTREAM = frozenset({"500", "503", "409", "429", "reset"})
#: Kinds where the service did act.
AFTER_UPSTREAM = frozenset({"lost-reset", "lost-503"})
#: Kinds that end in a reset connection rather than an HTTP answer.
RESETS = frozenset({"reset", "lost-reset"})

#: The services the proxy fronts, by catalog service type, with the clouds.yaml
#: endpoint-override key openstacksdk reads for each and the version path of
#: its endpoint (keystoneauth's version discovery then stays behind the proxy).
SERVICES: Mapping[str, tuple[str, str]] = {
    "identity": ("identity_endpoint_override", "/v3"),
    "compute": ("compute_endpoint_override", "/v2.1"),
    "block-storage": ("block_storage_endpoint_override", "/v3"),
    "network": ("network_endpoint_override", "/v2.0"),
    "image": ("image_endpoint_override", ""),
    "placement": ("placement_endpoint_override", ""),
}

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_TOKEN_PATH = re.compile(r"/auth/tokens/?$")
_IDS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32}"
)


def shape(path: str) -> str:
    """``path`` with its ids blanked: what makes requests "the same kind" for fault draws."""
    return _IDS.sub("{id}", path)


@dataclasses.dataclass(frozen=True)
class Rule:
    """Force what happens to requests of ``method`` whose path matches the ``path`` regex.

    Either answer ``status`` (the request never reaches the service), or inject
    the fault kind ``fault``. ``times`` limits the rule to the first matching
    requests (None: every one). Rules are checked before the random faults.
    """

    method: str
    path: str
    status: int | None = None
    fault: str | None = None
    times: int | None = None
    message: str = "forced by the fault proxy"

    def __post_init__(self) -> None:
        if (self.status is None) == (self.fault is None):
            raise ValueError("a rule gives either a status or a fault kind")
        if self.fault is not None and self.fault not in KINDS:
            raise ValueError(f"fault must be one of {KINDS}, not {self.fault!r}")

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


@dataclasses.dataclass(frozen=True)
class Strip:
    """Drop ``headers`` (case-insensitive) from requests whose path matches the ``path`` regex."""

    path: str
    headers: tuple[str, ...]

    def matches(self, path: str) -> bool:
        return re.search(self.path, path) is not None


#: The headers that carry a microversion to Nova (and the other microversioned services).
MICROVERSION_HEADERS = ("OpenStack-API-Version", "X-OpenStack-Nova-API-Version")


@dataclasses.dataclass(frozen=True)
class Faults:
    """What the proxy does to the requests it forwards; the default does nothing."""

    #: Fraction of eligible requests that get a fault, 0..1.
    rate: float = 0.0
    #: Fault kinds to choose from, uniformly.
    kinds: tuple[str, ...] = ("500", "503", "409", "429", "reset")
    #: Methods eligible for faults.
    methods: frozenset[str] = FAULTED_METHODS
    #: Seconds added to every request (faulted or not), before it is forwarded.
    latency: float = 0.0
    #: Value of the ``Retry-After`` header of 429 answers, in seconds.
    retry_after: int = 1
    #: Whether token requests may be faulted (keystoneauth does not retry them).
    tokens: bool = False
    #: Services (catalog types) eligible for faults; empty means all.
    services: frozenset[str] = frozenset()
    #: Forced answers, checked before the random faults.
    rules: tuple[Rule, ...] = ()
    #: Request headers dropped before forwarding.
    strips: tuple[Strip, ...] = ()
    seed: int = 0

    def dropped(self, path: str) -> frozenset[str]:
        """The (lower-cased) request headers the proxy drops from a request to ``path``."""
        return frozenset(
            h.lower() for strip in self.strips if strip.matches(path) for h in strip.headers
        )

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, not {self.rate}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be some of {KINDS}, not {self.kinds}")

    def decide(self, service: str, method: str, path: str, nth: int) -> str | None:
        """The fault for the ``nth`` request of ``method`` and ``path``'s shape (0-based).

        A pure function of its arguments and the seed, so a run is reproducible
        whatever the threads' interleaving.
        """
        if self.rate <= 0.0 or method not in self.methods:
            return None
        if self.services and service not in self.services:
            return None
        if not self.tokens and _TOKEN_PATH.search(path):
            return None
        key = f"{self.seed}\0{service}\0{method}\0{shape(path)}\0{nth}"
        digest = hashlib.sha256(key.encode())
        draw = random.Random(digest.digest())  # determinism, not secrecy
        if draw.random() >= self.rate:
            return None
        return draw.choice(self.kinds)


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it."""

    service: str
    method: str
    #: Path and query string, as sent.
    path: str
    #: Status the client got; 0 when its connection was reset.
    status: int
    #: The fault kind injected, ``rule`` for a rule's forced status, None when forwarded as is.
    fault: str | None
    #: Whether the request reached the service.
    forwarded: bool
    started: float
    elapsed: float

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING

    @property
    def token_request(self) -> bool:
        return (
            self.service == "identity" and _TOKEN_PATH.search(urlsplit(self.path).path) is not None
        )


class FaultProxy:
    """One reverse-proxy listener per upstream service, configured per run.

    Use as a context manager (or ``start()``/``stop()``); ``configure()``
    changes the faults of a running proxy, ``seen()`` returns the record and
    ``clear()`` starts a new one.
    """

    def __init__(self, upstreams: Mapping[str, str], faults: Faults | None = None) -> None:
        """``upstreams``: catalog service type -> base URL (scheme://host:port)."""
        self.upstreams = {name: _origin(url) for name, url in upstreams.items()}
        self._faults = faults or Faults()
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._occurrences: Counter[tuple[str, str, str]] = Counter()
        self._rule_hits: Counter[int] = Counter()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> FaultProxy:
        for name, (host, port) in self.upstreams.items():
            server = _Server(("127.0.0.1", 0), _Handler)
            server.proxy, server.service, server.upstream = self, name, (host, port)
            self._servers[name] = server
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"faultproxy-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration -------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def configure(self, faults: Faults) -> None:
        """Apply ``faults`` from the next request on; occurrence counts start over."""
        with self._lock:
            self._faults = faults
            self._occurrences.clear()
            self._rule_hits.clear()

    @contextmanager
    def faulting(self, faults: Faults) -> Iterator[FaultProxy]:
        """``faults`` inside the block, the previous configuration after it."""
        before = self.faults
        self.configure(faults)
        try:
            yield self
        finally:
            self.configure(before)

    def url(self, service: str) -> str:
        """``http://127.0.0.1:<port>`` of the listener for ``service``."""
        host, port = self._servers[service].server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def netlocs(self) -> dict[str, str]:
        """``127.0.0.1:<port>`` -> service, for matching client-side counters."""
        return {urlsplit(self.url(name)).netloc: name for name in self._servers}

    # -- the record ----------------------------------------------------------------

    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def mutations(self) -> list[Seen]:
        """Requests that could change the cloud: mutating methods, token requests excepted."""
        return [s for s in self.seen() if s.mutating and not s.token_request]

    def faulted(self) -> list[Seen]:
        return [s for s in self.seen() if s.fault is not None]

    # -- used by the handler ----------------------------------------------------------

    def _decide(
        self, service: str, method: str, path: str
    ) -> tuple[str | None, Rule | None, Faults]:
        """The fault for this request (``rule`` for a forced status), its rule, the config."""
        with self._lock:
            faults = self._faults
            key = (service, method, shape(path))
            nth = self._occurrences[key]
            self._occurrences[key] += 1
            for index, rule in enumerate(faults.rules):
                if not rule.matches(method, urlsplit(path).path):
                    continue
                if rule.times is not None and self._rule_hits[index] >= rule.times:
                    continue
                self._rule_hits[index] += 1
                return (rule.fault or "rule"), rule, faults
        return faults.decide(service, method, path, nth), None, faults

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    # -- clouds.yaml ------------------------------------------------------------------

    def cloud_config(self, auth: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        """A clouds.yaml cloud entry whose every request goes through this proxy.

        ``auth`` is an admin cloud's ``auth`` section; its ``auth_url`` is
        rewritten to the identity listener. Each service's endpoint is
        overridden, so the catalog's (direct) URLs are never used.
        """
        auth_path = urlsplit(str(auth["auth_url"])).path or "/v3"
        cloud: dict[str, Any] = {
            "auth": {**auth, "auth_url": self.url("identity") + auth_path},
            "identity_api_version": 3,
            "interface": "public",
            **extra,
        }
        for service, (key, path) in SERVICES.items():
            if service in self._servers:
                cloud[key] = self.url(service) + path
        return cloud

    def write_clouds_yaml(
        self,
        path: Path,
        name: str,
        auth: Mapping[str, Any],
        **extra: Any,
    ) -> Path:
        """Write a clouds.yaml with one cloud, ``name``, behind the proxy.

        JSON is valid YAML, so no YAML library is needed.
        """
        document = {"clouds": {name: self.cloud_config(auth, **extra)}}
        path.write_text(json.dumps(document, indent=2) + "\n")
        path.chmod(0o600)
        return path


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    proxy: FaultProxy
    service: str
    upstream: tuple[str, int]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Forwards one client connection's requests, keep-alive, faulting some."""

    protocol_version = "HTTP/1.1"
    server: _Server
    _local: ClassVar[threading.local] = threading.local()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the record is the log

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _handle(self) -> None:
        proxy, service = self.server.proxy, self.server.service
        method, path = self.command, self.path
        started = time.monotonic()
        body = self._read_body()
        fault, rule, faults = proxy._decide(service, method, path)
        if faults.latency:
            time.sleep(faults.latency)
        forwarded = False
        try:
            if fault in BEFORE_UPSTREAM or fault == "rule":
                status, send = self._fault(fault, faults, rule)
            else:
                drop = faults.dropped(urlsplit(path).path)
                status, headers, payload = self._forward(method, path, body, drop)
                forwarded = True
                if fault in AFTER_UPSTREAM:
                    status, send = self._fault(fault, faults, rule)
                else:
                    send = functools.partial(
                        self._answer, status, headers, payload, head=method == "HEAD"
                    )
        except (ConnectionError, OSError, http.client.HTTPException):
            # The upstream went away mid-answer: the client sees a bad gateway.
            status, send = 502, functools.partial(self._safe_answer, 502, "upstream failed")
        # On record before the client can see the answer: whoever reads the record
        # after a request returned finds that request in it.
        proxy._record(
            Seen(
                service=service,
                method=method,
                path=path,
                status=status,
                fault=fault,
                forwarded=forwarded,
                started=started,
                elapsed=time.monotonic() - started,
            )
        )
        try:
            send()
        except OSError:  # the client went away: nothing to tell it
            self.close_connection = True

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _forward(
        self, method: str, path: str, body: bytes | None, drop: frozenset[str] = frozenset()
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | drop}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            conn = self._upstream_connection(fresh=attempt == 2)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, BrokenPipeError):
                # A kept-alive upstream connection the service closed: once more, fresh.
                conn.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                conn.close()
            return response.status, list(response.getheaders()), payload
        raise AssertionError("unreachable")

    def _upstream_connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        pool: dict[tuple[str, int], http.client.HTTPConnection] = (
            getattr(self._local, "pool", None) or {}
        )
        self._local.pool = pool
        key = self.server.upstream
        conn = pool.get(key)
        if conn is None or fresh or conn.sock is None:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(*key, timeout=300)
            pool[key] = conn
        return conn

    def setup(self) -> None:
        super().setup()
        # Answers go out in one write, and without Nagle's wait for an ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _answer(
        self, status: int, headers: Iterable[tuple[str, str]], payload: bytes, *, head: bool
    ) -> None:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"{self.protocol_version} {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _HOP_BY_HOP]
        lines += [f"Content-Length: {len(payload)}", "", ""]
        self.wfile.write("\r\n".join(lines).encode("latin-1") + (b"" if head else payload))

    def _safe_answer(
        self, status: int, message: str, extra: Mapping[str, str] | None = None
    ) -> None:
        payload = json.dumps({"error": {"code": status, "message": message}}).encode()
        try:
            self._answer(
                status,
                [("Content-Type", "application/json"), *(extra or {}).items()],
                payload,
                head=self.command == "HEAD",
            )
        except OSError:
            self.close_connection = True

    def _fault(
        self, fault: str | None, faults: Faults, rule: Rule | None
    ) -> tuple[int, Callable[[], None]]:
        """The status the client will get (0: a reset), and how to send it."""
        if fault in RESETS:
            return 0, self._reset
        if fault == "rule" and rule is not None and rule.status is not None:
            return rule.status, functools.partial(self._safe_answer, rule.status, rule.message)
        status = 503 if fault == "lost-503" else int(str(fault))
        extra = {"Retry-After": str(faults.retry_after)} if status == 429 else {}
        message = f"fault injected by the fault proxy ({fault})"
        return status, functools.partial(self._safe_answer, status, message, extra)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST: the client sees a connection reset."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


def _origin(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the fault proxy forwards to http://host:port URLs, not {url!r}")
    return parts.hostname, parts.port or 80


def upstreams_of(conn: Any) -> dict[str, str]:
    """The public endpoint of each service the proxy can front, from ``conn``'s catalog."""
    found = {}
    for service in SERVICES:
        url = conn.session.get_endpoint(service_type=service, interface="public")
        if url:
            found[service] = url
    return found
