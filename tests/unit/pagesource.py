"""A fake service that serves listings page by page, spelling next links as the real one does.

Stands in for ``conn.<service>`` of openstacksdk (its ``get(url, params=)``):
``limit`` and ``marker`` are honoured like Nova, Cinder, Neutron and Glance
honour them. Keystone (style ``keystone``) is an older one by default: it
ignores ``limit`` and lists whole (cut short and marked ``truncated`` under
``list_limit``); with ``max_db_limit`` set it is keystone 30's, which pages
when asked with ``limit`` (every full page ``truncated``, with a next link)
and, asked without, returns the first ``max_db_limit`` items unmarked.
Each request is recorded, and a page can be made to fail, so a test sees
what a reader asked and what it does when a listing breaks off.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

BASE = "http://cloud.example:8774/v2.1"


class Response:
    def __init__(self, status_code: int, body: Any, raw: str | None = None) -> None:
        self.status_code = status_code
        self._body = body
        self._raw = raw
        self.links: dict[str, Any] = {}

    def json(self) -> Any:
        if self._raw is not None:
            return json.loads(self._raw)
        return self._body


class PageSource:
    """One service: ``lists`` maps a path (``/servers/detail``) to (key, items).

    ``style`` is how the next link is spelled: ``nova`` (``<key>_links``
    with an absolute href; Cinder and Neutron alike), ``glance`` (``next``,
    a path from the API root) or ``keystone`` (a ``links`` dict, no paging).
    """

    def __init__(
        self, style: str, lists: Mapping[str, tuple[str, Sequence[Mapping[str, Any]]]]
    ) -> None:
        self.style = style
        self.lists = dict(lists)
        self.requests: list[tuple[str, dict[str, str]]] = []
        #: (path, page number from 0) -> the response to give instead of that page,
        #: or the error to raise (the service cannot be reached).
        self.broken: dict[tuple[str, int], Response | Exception] = {}
        #: A Keystone that truncated its lists (``list_limit``).
        self.truncated = False
        #: A Keystone that pages (keystone 30): the most it returns a request.
        self.max_db_limit: int | None = None
        #: The microversion each request asked for (``None``: the service's default).
        self.microversions: list[str | None] = []

    def get(
        self, url: str, params: Mapping[str, Any] | None = None, microversion: str | None = None
    ) -> Response:
        self.microversions.append(microversion)
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query)) | {k: str(v) for k, v in (params or {}).items()}
        path = next((p for p in self.lists if parts.path.endswith(p)), None)
        self.requests.append((path or parts.path, query))
        if path is None:
            return Response(404, {"error": "not found"})
        page = sum(1 for p, _ in self.requests if p == path) - 1
        broken = self.broken.get((path, page))
        if isinstance(broken, Exception):
            raise broken
        if broken is not None:
            return broken
        key, items = self.lists[path]
        return Response(200, self._page(path, key, list(items), query))

    def _page(self, path: str, key: str, items: list, query: dict[str, str]) -> dict[str, Any]:
        if self.style == "keystone":
            return self._keystone_page(path, key, items, query)
        start = 0
        if "marker" in query:
            start = next(i for i, item in enumerate(items) if item["id"] == query["marker"]) + 1
        limit = int(query.get("limit", len(items) or 1))
        chunk = items[start : start + limit]
        body = {key: chunk}
        if len(chunk) == limit and chunk:
            following = urlencode({**query, "marker": chunk[-1]["id"]})
            if self.style == "glance":
                body["next"] = f"/v2{path}?{following}"
            else:
                body[f"{key}_links"] = [{"rel": "next", "href": f"{BASE}{path}?{following}"}]
        return body

    def _keystone_page(
        self, path: str, key: str, items: list, query: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {key: items, "links": {"self": path, "next": None}}
        if self.max_db_limit is None:
            if self.truncated:
                body["truncated"] = True
            return body
        if "limit" not in query:
            body[key] = items[: self.max_db_limit]  # keystone 30: capped, and says nothing
            return body
        start = 0
        if "marker" in query:
            start = next(i for i, item in enumerate(items) if item["id"] == query["marker"]) + 1
        limit = min(int(query["limit"]), self.max_db_limit)
        body[key] = chunk = items[start : start + limit]
        if len(chunk) == limit:
            following = urlencode({**query, "limit": limit, "marker": chunk[-1]["id"]})
            body["links"]["next"] = f"http://keystone.example/v3{path}?{following}"
            body["truncated"] = True
        return body
