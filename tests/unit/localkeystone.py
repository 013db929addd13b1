"""A local HTTP server that plays Keystone, for tests where openstacksdk and keystoneauth talk HTTP.

:class:`Keystone` answers what every such test needs from Keystone: a
password token (its catalog names Keystone, and whatever a subclass adds)
and Keystone's version document (:meth:`Keystone.version_document`). A test's
subclass answers the rest in its ``do_GET`` (the identity asked about,
another service's documents) with :meth:`Keystone.send`. :func:`serve` runs
a handler class on a free local port for the length of a ``with``;
:func:`connect` is ``reaper.cloud.connect`` on a clouds.yaml cloud pointed at
it, as the admin of :func:`admin_auth`.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reaper import cloud, config
from reaper.credentials import CredentialSource, Origin


class Keystone(http.server.BaseHTTPRequestHandler):
    #: Keystone's versioned path on the server (its auth URL's), no trailing slash.
    identity_path = "/v3"
    region = "RegionOne"
    #: Whom the token is for.
    project: ClassVar[dict[str, Any]] = {
        "id": "a" * 32,
        "name": "admin",
        "domain": {"id": "default"},
    }
    user: ClassVar[dict[str, Any]] = {"id": "b" * 32, "name": "admin", "domain": {"id": "default"}}
    #: The server's address, no path (set by the test's fixture from :func:`serve`).
    address: ClassVar[str]

    def log_message(self, *args: Any) -> None:
        pass

    def root(self) -> str:
        """The server's address, no path."""
        return f"http://127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]

    def send(self, code: int, body: Any, kind: str = "application/json", **headers: str) -> None:
        """``body`` (bytes as they are, anything else as JSON) with ``code`` and ``headers``."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def endpoint(self, path: str) -> dict[str, str]:
        """A public catalog endpoint at ``path`` on this server."""
        return {"interface": "public", "region": self.region, "url": self.root() + path}

    def catalog(self) -> list[dict[str, Any]]:
        """The token's catalog: Keystone (a subclass adds its services)."""
        keystone = {"type": "identity", "name": "keystone"}
        return [{**keystone, "endpoints": [self.endpoint(self.identity_path)]}]

    def do_POST(self) -> None:
        """Any POST is a password authentication: the token, with the catalog."""
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        token = {
            "expires_at": "2999-01-01T00:00:00.000000Z",
            "project": self.project,
            "user": self.user,
            "roles": [{"id": "r", "name": "admin"}],
            "catalog": self.catalog(),
            "methods": ["password"],
        }
        self.send(201, {"token": token}, **{"X-Subject-Token": "tok"})

    def version_document(self, path: str) -> bool:
        """Sends Keystone's version document if ``path`` (no query, no trailing slash) asks it.

        It answers at the versioned path and at the one above it (the root's
        document), naming the versioned path with its slash as its own.
        """
        if path not in (self.identity_path, self.identity_path.rsplit("/", 1)[0]):
            return False
        link = {"rel": "self", "href": self.root() + self.identity_path + "/"}
        self.send(200, {"version": {"id": "v3.14", "status": "stable", "links": [link]}})
        return True


@contextlib.contextmanager
def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free local port until the ``with`` ends; yields the root URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def admin_auth(auth_url: str) -> dict[str, str]:
    """The password ``auth`` of the admin :class:`Keystone`'s token is for."""
    return {
        "auth_url": auth_url,
        "username": "admin",
        "password": "secret",
        "project_name": "admin",
        "user_domain_id": "default",
        "project_domain_id": "default",
    }


def connect(tmp_path: Path, handler: type[Keystone], **cloud_extra: str) -> Any:
    """A read-only ``reaper.cloud.connect`` connection from a clouds.yaml cloud on ``handler``.

    ``cloud_extra`` adds settings to the cloud, each a path on the server
    (``network_endpoint_override="/network/v2.0"``), as the benchmarks'
    fault proxy writes them.
    """
    base = handler.address
    auth = admin_auth(base + handler.identity_path)
    entry = {"auth": auth, "region_name": handler.region, "interface": "public"}
    entry |= {k: base + v for k, v in cloud_extra.items()}
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(json.dumps({"clouds": {"test": entry}}))
    conf_file = tmp_path / "reaper.conf"
    conf_file.write_text("[service_credentials]\ncloud = test\n")
    conf = config.make_conf(["--config-file", str(conf_file)], config_files=[])
    source = CredentialSource(Origin.CONFIG_CLOUD, cloud="test")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
        return cloud.connect(conf, read_only=True, source=source)
