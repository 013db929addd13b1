"""An in-process stand-in for memcached in Swift's proxy (``[filter:cache]``).

Swift's proxy caches account and container existence in ``env['swift.cache']``
(memcached in production) and logs an error on every request without one. The testbed
runs no memcached, so this middleware gives the proxy (one process, ``workers = 0``) a
dictionary with memcached's expiry semantics: stale-for-a-while answers after an account
or container is deleted, as a real cluster gives, are kept.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: memcached reads an expiry above 30 days as an absolute Unix time.
_RELATIVE_LIMIT = 30 * 24 * 3600


class LocalCache:
    """The subset of swift.common.memcached.MemcacheRing the proxy and middlewares call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float | None, Any]] = {}

    @staticmethod
    def _expiry(ttl: float) -> float | None:
        if not ttl:
            return None
        return ttl if ttl > _RELATIVE_LIMIT else time.time() + ttl

    def _live(self, key: str) -> Any:
        entry = self._items.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires is not None and expires <= time.time():
            del self._items[key]
            return None
        return value

    def get(self, key: str, raise_on_error: bool = False) -> Any:
        with self._lock:
            return copy.deepcopy(self._live(key))

    def set(self, key: str, value: Any, serialize: bool = True, time: float = 0,
            min_compress_len: int = 0, raise_on_error: bool = False) -> None:  # fmt: skip
        with self._lock:
            self._items[key] = (self._expiry(time), copy.deepcopy(value))

    def incr(self, key: str, delta: int = 1, time: float = 0) -> int:
        with self._lock:
            value = max(0, int(self._live(key) or 0) + delta)
            self._items[key] = (self._expiry(time), value)
            return value

    def decr(self, key: str, delta: int = 1, time: float = 0) -> int:
        return self.incr(key, -delta, time)

    def delete(self, key: str, server_key: str | None = None) -> None:
        with self._lock:
            self._items.pop(key, None)

    def set_multi(self, mapping: Mapping[str, Any], server_key: str, serialize: bool = True,
                  time: float = 0, min_compress_len: int = 0) -> None:  # fmt: skip
        for key, value in mapping.items():
            self.set(key, value, time=time)

    def get_multi(self, keys: Iterable[str], server_key: str) -> list[Any]:
        return [self.get(key) for key in keys]


class CacheMiddleware:
    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.cache = LocalCache()

    def __call__(self, env: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        env["swift.cache"] = self.cache
        return self.app(env, start_response)


def filter_factory(global_conf: Mapping[str, Any], **local_conf: Any) -> Callable[..., Any]:
    return CacheMiddleware
