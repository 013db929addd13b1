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

Some services' version documents reaper has no use for, and
:func:`connection_class` builds their proxies on the endpoint at once
(:data:`UNREAD`). Glance's and Placement's root documents are read before
their first request, from the catalog and an override alike: Glance's only
API since Rocky is ``/v2`` under its root, and every Placement request
reaper sends names its microversion. Neutron has no version document under
its version: ``/v2.0/`` is its list of resources. openstacksdk builds
Neutron's proxy from the catalog without a read (it appends ``/v2.0``
itself), but from an endpoint override (a clouds.yaml's
``network_endpoint_override``, as the benchmarks' fault proxy writes) it
asks the override's document first: at ``.../v2.0`` that is the resource
list (or a 404), keystoneauth finds no version in it and the proxy is built
on the override as given, a request later and ~1 s of discovery on a loaded
host. Only an override naming Neutron's ``/v2.0`` is built at once; an
unversioned one keeps its read, which finds ``/v2.0/`` in Neutron's root
document, and the catalog is left to openstacksdk. An endpoint naming
another version, strict proxies (they validate by reading), a disabled
service and one with neither an override nor a catalog entry are left to
openstacksdk as well.
"""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Unread:
    """How a service's proxy is built without its version document."""

    #: The API's major version, whose proxy is built (an endpoint naming another is read).
    version: str
    #: Appended to an endpoint that names no version; ``None``: that endpoint is read.
    versionless: str | None
    #: Whether the catalog's endpoint is built on too, not only an override.
    catalog: bool = True


#: Services whose version document reaper has no use for, by service type.
#: Glance's only API since Rocky is ``/v2`` under the root the catalog names;
#: Placement's API is its root, and every request reaper sends it names its
#: microversion (an older Placement answers 406, which fails the read, never
#: passes it). Neutron's ``/v2.0/`` holds no document, and openstacksdk builds
#: its proxy from the catalog without one; its root's document finds ``/v2.0/``.
UNREAD: Mapping[str, Unread] = {
    "image": Unread("2", "v2"),
    "placement": Unread("1", ""),
    "network": Unread("2", None, catalog=False),
}


def unread_endpoint(service_type: str, endpoint: str) -> str | None:
    """Where :data:`UNREAD`'s ``service_type`` answers, from its catalog entry or override.

    ``None`` (left to openstacksdk's read) when the endpoint names another
    version than the one built, or names none and :attr:`Unread.versionless`
    is ``None``.
    """
    unread = UNREAD[service_type]
    stripped = endpoint.rstrip("/")
    found = _VERSION_SEGMENT.search(urlsplit(stripped).path)
    if found:
        return stripped if found.group(0).lstrip("/v").split(".")[0] == unread.version else None
    if unread.versionless is None:
        return None
    return f"{stripped}/{unread.versionless}" if unread.versionless else stripped


def build_unread(service: Any, instance: Any) -> Any:
    """The proxy of an :data:`UNREAD` service, built on its endpoint without a read.

    ``None`` (openstacksdk builds it, reading the document if it does) for
    another API version, strict proxies (they validate by reading), a
    service the cloud does not run, no endpoint, or an endpoint
    :func:`unread_endpoint` leaves to the read. The endpoint is the
    override, or the catalog's entry (the token's, no request of its own)
    where :attr:`Unread.catalog`, kept as the override, as openstacksdk
    keeps what its read found.
    """
    service_type = service.service_type
    config = instance.config
    unread = UNREAD[service_type]
    configured = str(config.get_api_version(service_type) or unread.version)
    proxy_class = service.supported_versions.get(unread.version)
    if (
        configured[:1] != unread.version
        or proxy_class is None
        or getattr(instance, "_strict_proxies", True)
        or not config.has_service(service_type)
    ):
        return None
    endpoint = config.get_endpoint(service_type)
    if not endpoint and unread.catalog:
        endpoint = config.get_endpoint_from_catalog(service_type)
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
        from openstack.network import network_service
        from openstack.placement import placement_service

        def unread(base: Any) -> Any:
            class Service(base):  # type: ignore[misc,valid-type]
                def _make_proxy(self, instance: Any) -> Any:
                    built = build_unread(self, instance)
                    return super()._make_proxy(instance) if built is None else built

            Service.__name__ = Service.__qualname__ = f"Unread{base.__name__}"
            return Service

        class Connection(openstack.connection.Connection):  # type: ignore[misc]
            image = unread(image_service.ImageService)(service_type="image")
            network = unread(network_service.NetworkService)(service_type="network")
            placement = unread(placement_service.PlacementService)(service_type="placement")

        _CONNECTION_CLASS = Connection
    return _CONNECTION_CLASS
