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

The 401 itself is a round trip too: keystoneauth reads every version
document without a token first and asks again with one when it is refused,
as Cinder and Neutron refuse it. :func:`token_up_front` says when a session
may send the token at once instead: a GET made the way keystoneauth's
``get_version_data`` makes it (``Accept: application/json``, no token),
while the session holds a token that is not about to expire, to an address
that is not under Keystone's auth URL. The token is what keystoneauth sends
there anyway on the 401; a token request, Keystone's own documents and the
requests an auth plugin makes while it authenticates (an identity provider's,
sent before a token exists or once it expires) are left as they are asked.
A service that refuses the token still answers 401, and keystoneauth's own
retry with a token follows, as before.

A versioned endpoint's document is asked at the version's own address, with
its trailing slash (:func:`own_address`): keystoneauth asks ``.../v3`` as the
catalog names it, and Cinder answers that with a redirect to ``.../v3/``,
which keystoneauth follows: two round trips for one document on every new
connection. Every service's version document names the version's address
with the slash as its ``self`` link (Nova's ``/v2.1/``, Cinder's ``/v3/``),
so the slashed address is the document's own and answers at once. Only
documents sent with the token up front are moved (a service's, never
Keystone's), and the discovery cache still keys them without the slash.

Neutron has no version document under its version: ``/v2.0/`` is its list
of resources. openstacksdk builds Neutron's proxy from the catalog without a
read (it appends ``/v2.0`` itself), but from an endpoint override (a
clouds.yaml's ``network_endpoint_override``, as the benchmarks' fault proxy
writes) it asks the override's document first: at ``.../v2.0`` that is the
resource list (or a 404), keystoneauth finds no version in it and the proxy
is built on the override as given, a request later and ~1 s of discovery on
a loaded host. :func:`without_network_document` builds that same proxy at
once; an unversioned override keeps its read, which finds ``/v2.0/`` in
Neutron's root document.

Glance's and Placement's root documents are read before their first request,
from the catalog and an override alike, and reaper uses neither answer:
Glance's only API since Rocky is ``/v2`` under its root, and every Placement
request reaper sends names its microversion. :func:`connection_class` builds
both proxies on the endpoint at once (:data:`UNREAD`); an endpoint naming
another version, strict proxies or a service missing from the catalog are
left to openstacksdk's read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: Seconds of life a token must have left to be sent up front (keystoneauth's own margin
#: before it authenticates again).
MIN_TOKEN_LIFE = 120
_VERSION_SEGMENT = re.compile(r"/v\d+(\.\d+)?$")


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


def with_token_up_front(auth: Any, url: str, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` to send the request with: the token up front if :func:`token_up_front`.

    Without reauthentication on a 401: refused anyway, keystoneauth asks
    again with a token (and may then authenticate again), as it always did.
    """
    if not token_up_front(auth, url, method, kwargs):
        return kwargs
    return {**kwargs, "authenticated": True, "allow_reauth": False}


def as_sent(auth: Any, url: str, method: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL and ``kwargs`` to send: a service's version document with the token
    (:func:`with_token_up_front`), at its own address (:func:`own_address`)."""
    up_front = with_token_up_front(auth, url, method, kwargs)
    return (url, kwargs) if up_front is kwargs else (own_address(url), up_front)


def own_address(url: str) -> str:
    """``url`` with a trailing slash when its path ends in a version (``/v3`` -> ``/v3/``)."""
    parts = urlsplit(url)
    if not _VERSION_SEGMENT.search(parts.path):
        return url
    return urlunsplit(parts._replace(path=parts.path + "/"))


def without_network_document(conn: Any) -> Any:
    """``conn``, its Neutron proxy built without a read when its endpoint override is versioned.

    The proxy is the one openstacksdk builds after the read finds nothing
    (``get_session_client`` with the override and the version's proxy
    class). Left to openstacksdk: no override or an unversioned one, another
    API version, strict proxies (they validate by reading), a proxy built.
    """
    config, proxies = conn.config, getattr(conn, "_proxies", None)
    override = config.get_endpoint("network")
    version = str(config.get_api_version("network") or "")
    proxy_class = type(conn).network.supported_versions.get(version[:1])
    if (
        not override
        or not _VERSION_SEGMENT.search(urlsplit(override).path.rstrip("/"))
        or proxy_class is None
        or getattr(conn, "_strict_proxies", True)
        or not isinstance(proxies, dict)
        or "network" in proxies
        or not config.has_service("network")
    ):
        return conn
    proxy = config.get_session_client("network", constructor=proxy_class)
    proxy._connection = conn
    proxies["network"] = proxy
    return conn


def token_up_front(auth: Any, url: str, method: str, kwargs: Mapping[str, Any]) -> bool:
    """Whether this request is a service's version document to send with the token at once.

    ``auth`` is the session's keystoneauth plugin; ``kwargs`` what the request was
    asked with. See the module docstring for why each condition is there.
    """
    if method != "GET" or kwargs.get("authenticated", True) is not False:
        return False
    headers = kwargs.get("headers") or {}
    if headers.get("Accept") != "application/json" or url.rstrip("/").endswith("/auth/tokens"):
        return False
    ref = getattr(auth, "auth_ref", None)
    auth_url = getattr(auth, "auth_url", None)
    if ref is None or not auth_url or ref.will_expire_soon(MIN_TOKEN_LIFE):
        return False
    return not under_auth_url(url, str(auth_url))


def under_auth_url(url: str, auth_url: str) -> bool:
    """Whether ``url`` is Keystone's: on the auth URL's host, under its path less a version.

    ``http://keystone:5000/v3`` claims the whole host (its root document
    included); ``http://cloud/identity/v3`` only ``/identity``, so the other
    services behind one address (DevStack's) are not taken for Keystone.
    """
    asked, auth = urlsplit(url), urlsplit(auth_url)
    if (asked.scheme, asked.netloc) != (auth.scheme, auth.netloc):
        return False
    root = _VERSION_SEGMENT.sub("", auth.path.rstrip("/"))
    path = asked.path.rstrip("/")
    return not root or path == root or path.startswith(root + "/")


#: Services whose version document reaper has no use for, by service type: the API
#: version whose proxy is built, and the path a versionless endpoint gets for it.
#: Glance's only API since Rocky is ``/v2`` under the root the catalog names;
#: Placement's API is its root, and every request reaper sends it names its
#: microversion (an older Placement answers 406, which fails the read, never
#: passes it).
UNREAD: Mapping[str, tuple[str, str]] = {"image": ("2", "v2"), "placement": ("1", "")}


def unread_endpoint(service_type: str, endpoint: str) -> str | None:
    """Where :data:`UNREAD`'s ``service_type`` answers, from its catalog entry or override.

    ``None`` when the endpoint names another version than the one built
    (left to openstacksdk's read).
    """
    version, path = UNREAD[service_type]
    stripped = endpoint.rstrip("/")
    found = _VERSION_SEGMENT.search(urlsplit(stripped).path)
    if found:
        return stripped if found.group(0).lstrip("/v").split(".")[0] == version else None
    return f"{stripped}/{path}" if path else stripped


def build_unread(service: Any, instance: Any) -> Any:
    """The proxy of an :data:`UNREAD` service, built on its endpoint without a read.

    ``None`` (openstacksdk builds it, reading the document) for another API
    version, strict proxies (they validate by reading), a service the cloud
    does not run, no endpoint, or an endpoint of another version. The
    endpoint is the override, or the catalog's entry (the token's, no
    request of its own), kept as the override, as openstacksdk keeps what
    its read found.
    """
    service_type = service.service_type
    config = instance.config
    version, _ = UNREAD[service_type]
    configured = str(config.get_api_version(service_type) or version)
    proxy_class = service.supported_versions.get(version)
    if (
        configured[:1] != version
        or proxy_class is None
        or getattr(instance, "_strict_proxies", True)
        or not config.has_service(service_type)
    ):
        return None
    endpoint = config.get_endpoint(service_type) or config.get_endpoint_from_catalog(service_type)
    where = unread_endpoint(service_type, str(endpoint)) if endpoint else None
    if where is None:
        return None
    config.set_service_value("endpoint_override", service_type, where)
    return config.get_session_client(service_type, constructor=proxy_class)


_CONNECTION_CLASS: Any = None


def connection_class() -> Any:
    """openstacksdk's ``Connection`` whose :data:`UNREAD` services skip their document.

    Built on first use (openstacksdk is imported only then). Each proxy is
    still made when first used, as openstacksdk makes it.
    """
    global _CONNECTION_CLASS
    if _CONNECTION_CLASS is None:
        import openstack.connection
        from openstack.image import image_service
        from openstack.placement import placement_service

        def unread(base: Any) -> Any:
            class Unread(base):  # type: ignore[misc,valid-type]
                def _make_proxy(self, instance: Any) -> Any:
                    built = build_unread(self, instance)
                    return super()._make_proxy(instance) if built is None else built

            Unread.__name__ = Unread.__qualname__ = f"Unread{base.__name__}"
            return Unread

        class Connection(openstack.connection.Connection):  # type: ignore[misc]
            image = unread(image_service.ImageService)(service_type="image")
            placement = unread(placement_service.PlacementService)(service_type="placement")

        _CONNECTION_CLASS = Connection
    return _CONNECTION_CLASS
