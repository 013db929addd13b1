"""A listing read page by page as raw JSON: no SDK object per item, memory bounded per page.

openstacksdk builds a resource object for every item it lists (milliseconds
of CPU and kilobytes each); a cloud-wide listing of a million resources then
costs minutes of a core and gigabytes. What a census of owners needs is two
or three fields of each item, so this reader asks the service for pages of
``limit`` items through the SDK's own proxy (``conn.<service>.get``: the
endpoint comes from the catalog, keystoneauth does the auth and retries) and
hands each page's decoded items to the caller, which keeps what it counts
and drops the page.

It follows the next links every service spells differently, as openstacksdk
does (``<key>_links`` of Nova, Cinder and Neutron, Keystone's ``links``
dict, Glance's ``next`` path, a ``Link`` header) until the last page.

Keystone pages too, since 2026.1 (keystone 30): ``limit`` and ``marker``,
every full page marked ``truncated`` with a next link. Asked without
``limit``, that Keystone returns at most ``[DEFAULT] max_db_limit`` (1000)
identities, unmarked and without a next link: so Keystone's lists are always
read with ``limit`` too. An older Keystone ignores ``limit`` and returns the
whole list, or one cut short by ``list_limit``: marked ``truncated``, with no
next link, which raises.

Invariant: a listing that cannot be read to its end raises
:class:`Incomplete`; it never ends quietly early. A caller must then not
conclude that an owner owns nothing from what it saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

#: Items asked for per page: the most Nova, Cinder and Glance return by default
#: (``max_limit``/``osapi_max_limit``/``api_limit_max``); Neutron honours it too.
PAGE_SIZE = 1000
#: A listing longer than this many pages is taken for a loop (a marker that never moves).
MAX_PAGES = 100_000


class Incomplete(Exception):
    """A listing could not be read to its end (an error, a bad page, a truncated answer)."""


@dataclasses.dataclass(frozen=True)
class Listing:
    """One cloud-wide listing: where it is read and which key of a page holds its items."""

    #: What the caller calls it (``servers``); also the error messages' name.
    name: str
    #: The SDK proxy that reaches the service (``compute``, ``network``...).
    service: str
    #: Path below the service's endpoint (``/servers/detail``).
    path: str
    #: The page's key that holds the items (``servers``).
    key: str
    #: Query parameters of the first page (filters); the next links carry them on.
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: ``limit`` of each page; ``None`` asks without ``limit`` (for a test's whole list).
    page_size: int | None = PAGE_SIZE
    #: The API microversion every page is asked at (a filter that needs one); ``None``: the
    #: service's default.
    microversion: str | None = None


def pages(proxy: Any, listing: Listing, *, max_pages: int = MAX_PAGES) -> Iterator[list[dict]]:
    """The items of ``listing``, one decoded page at a time, to the last page.

    ``proxy`` is what ``conn.<listing.service>`` is: anything with
    ``get(url, params=...)`` answering a ``requests``-like response.
    Raises :class:`Incomplete` when a page is refused (any status but 200)
    or cannot be decoded, when Keystone says it truncated the list and
    offers no next page, or when the next links go round; an error reaching
    the service (keystoneauth's, after its retries) propagates as it is, so
    the caller can tell bad credentials from a bad page.
    """
    params: Mapping[str, Any] | None = dict(listing.params)
    if listing.page_size is not None:
        params = {**listing.params, "limit": listing.page_size}
    url: str | None = listing.path
    seen: set[str] = set()
    for _ in range(max_pages):
        assert url is not None
        body, response = _page(proxy, listing, url, params)
        items = body.get(listing.key)
        if not isinstance(items, list):
            raise Incomplete(f"{listing.name}: a page without a {listing.key!r} list")
        url = next_link(body, listing.key, response)
        if body.get("truncated") and url is None:
            # Keystone marks every full page ``truncated``; only one without a next page
            # (``list_limit`` of a Keystone that does not page) is cut short.
            raise Incomplete(f"{listing.name}: the service truncated the list (list_limit)")
        yield items
        if url is None or not items:
            return
        if url in seen:
            raise Incomplete(f"{listing.name}: the next link repeats ({url})")
        seen.add(url)
        params = None  # the next link carries the query on
    raise Incomplete(f"{listing.name}: more than {max_pages} pages")


def _page(
    proxy: Any, listing: Listing, url: str, params: Mapping[str, Any] | None
) -> tuple[dict, Any]:
    if listing.microversion is None:
        response = proxy.get(url, params=params)
    else:
        response = proxy.get(url, params=params, microversion=listing.microversion)
    status = getattr(response, "status_code", None)
    if status != 200:
        raise Incomplete(f"{listing.name}: HTTP {status} from {url}")
    try:
        body = response.json()
    except ValueError as exc:
        raise Incomplete(f"{listing.name}: a page that is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise Incomplete(f"{listing.name}: a page that is not a JSON object")
    return body, response


def next_link(body: Mapping[str, Any], key: str, response: Any = None) -> str | None:
    """The next page's URL, however the service spells it; ``None`` on the last page.

    The same rules as openstacksdk's ``Resource._get_next_link``: Keystone's
    ``links`` dict, else ``<key>_links`` (Nova, Cinder, Neutron), else
    Glance's ``next`` (a path from the API root, ``/v2/images?marker=..``,
    made relative to the endpoint, which already ends in ``/v2``), else an
    RFC 5988 ``Link`` header.
    """
    found: str | None = None
    links = body.get("links") if "links" in body else body.get(f"{key}_links")
    if isinstance(links, dict):
        found = links.get("next") or None
    elif isinstance(links, list):
        for item in links:
            if isinstance(item, dict) and item.get("rel") == "next" and item.get("href"):
                found = item["href"]
                break
    found = found or body.get("next") or None
    if found and found.startswith("/v"):
        found = found[found.find("/", 1) :]
    if not found and response is not None:
        header = (getattr(response, "links", None) or {}).get("next") or {}
        found = header.get("url") or header.get("uri")
    return found
