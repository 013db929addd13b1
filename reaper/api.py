"""The controller's HTTP endpoint: ``/healthz`` and Prometheus ``/metrics``.

``/healthz`` answers 200 only when the listener is connected, the store
answers and Keystone accepts reaper's credentials as an admin's (each
check's result is cached a few seconds, so a scraping load balancer cannot
hammer Keystone), else 503; the JSON body says which check failed and why
(for Keystone, the same one line ``reaper`` would print). It binds to ``[api] host``:``[api] port``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from reaper import log
from reaper.metrics import Metrics

LOG = log.get(__name__)

Check = Callable[[], None]
CACHE_SECONDS = 5.0


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._handle, args=(request, client_address), daemon=True)
        thread.start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


class Health:
    """Named checks, each raising when unhealthy; results cached briefly."""

    def __init__(self, checks: Mapping[str, Check]) -> None:
        self.checks = dict(checks)
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def status(self) -> dict[str, str]:
        result: dict[str, str] = {}
        now = time.monotonic()
        for name, check in self.checks.items():
            with self._lock:
                cached = self._cache.get(name)
            if cached and now - cached[0] < CACHE_SECONDS:
                error = cached[1]
            else:
                try:
                    check()
                    error = None
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"[:300]
                with self._lock:
                    self._cache[name] = (now, error)
            result[name] = "ok" if error is None else error
        return result


def application(health: Health, metrics: Metrics) -> Callable[..., Iterable[bytes]]:
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path in ("/healthz", "/health"):
            status = health.status()
            healthy = all(v == "ok" for v in status.values())
            body = json.dumps({"healthy": healthy, "checks": status}).encode()
            start_response(
                "200 OK" if healthy else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


class ApiServer:
    def __init__(self, host: str, port: int, health: Health, metrics: Metrics) -> None:
        self.server = make_server(
            host, port, application(health, metrics), _ThreadingServer, handler_class=_Quiet
        )
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="reaper-api", daemon=True
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self.thread.start()
        LOG.info("serving /healthz and /metrics", port=self.port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
