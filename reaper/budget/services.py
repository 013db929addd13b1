"""Which service a request is for, in the executor's words (``compute``, ``block_storage``...).

The session knows a request's catalog ``service_type`` when openstacksdk
names it (``endpoint_filter``); a next link or a URL built by hand only has
an address, matched against the endpoints already seen. The names are the
ones ``[executor] *_concurrency`` and the plan's steps use, so a step's
slot and its requests' slots are the same service's.
"""

from __future__ import annotations

import threading
from urllib.parse import urlparse

#: Catalog types (and their historical aliases) -> reaper's service names.
ALIASES = {
    "volume": "block_storage",
    "volumev2": "block_storage",
    "volumev3": "block_storage",
    "block-store": "block_storage",
    "sharev2": "shared_file_system",
    "share": "shared_file_system",
    "load-balancer": "load_balancer",
    "object-store": "object_store",
}


def name_of(service_type: str) -> str:
    """``block-storage`` / ``volumev3`` -> ``block_storage``; unknown types keep their name."""
    kind = service_type.strip().lower()
    return ALIASES.get(kind, kind.replace("-", "_"))


class Endpoints:
    """Endpoint base URLs seen with their service, to name requests sent by address only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bases: dict[str, str] = {}

    def learn(self, base: str, service: str) -> None:
        key = base.rstrip("/")
        with self._lock:
            if self._bases.get(key) != service:
                self._bases[key] = service

    def service_of(self, url: str) -> str:
        """The service of the longest known base ``url`` starts with, else its host."""
        with self._lock:
            bases = sorted(self._bases.items(), key=lambda kv: len(kv[0]), reverse=True)
        for base, service in bases:
            if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
                return service
        return f"host:{urlparse(url).netloc or '?'}"
