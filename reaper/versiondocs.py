"""Version documents: one question per service endpoint, whatever its trailing slash.

keystoneauth keeps the version documents it has read in its session's
discovery cache, keyed by URL, and treats ``https://host`` and
``https://host/`` as one. A versioned endpoint it does not: Cinder's catalog
names ``.../v3``, the document read there names the version's own
``.../v3/``, and keystoneauth reads that one too, as a URL it has not seen.
For a service whose version document needs a token (Cinder, Neutron) that is
an unauthenticated GET answered 401 and the same GET with a token, on every
new connection: four requests of the forty-odd of a tenant's discovery.
:class:`Cache` keys the session's cache by the URL without its trailing
slash, so the second question is answered by the first.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def key(url: str) -> str:
    """``url`` without the slash its path ends with (the root's too, as keystoneauth does)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/")))


class Cache(MutableMapping[str, Any]):
    """A discovery cache (the dict keystoneauth gives a session) keyed by :func:`key`."""

    def __init__(self, backing: MutableMapping[str, Any] | None = None) -> None:
        self.backing: MutableMapping[str, Any] = {} if backing is None else backing

    def __getitem__(self, url: str) -> Any:
        return self.backing[key(url)]

    def __setitem__(self, url: str, value: Any) -> None:
        self.backing[key(url)] = value

    def __delitem__(self, url: str) -> None:
        del self.backing[key(url)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.backing)

    def __len__(self) -> int:
        return len(self.backing)
