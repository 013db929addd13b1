"""The only door to the cloud: openstacksdk connections, read-only when planning.

A token scoped to a deleted project cannot exist, so reaper always acts as an
admin and names owners explicitly in every call. Credentials come from a
clouds.yaml cloud (``--os-cloud``, ``OS_CLOUD`` or ``[service_credentials]
cloud``), from an openrc's ``OS_*`` variables or from the keystoneauth
options of ``[service_credentials]``; ``credentials.py`` decides which.

Read-only is enforced below openstacksdk, in the keystoneauth session every
request goes through: :class:`GuardedSession` refuses any method but GET,
HEAD and OPTIONS (except the token request itself) when it is read-only, so
dry-run cannot mutate the cloud whatever code runs above it. The same
session counts requests per method and endpoint, which the benchmarks and
the ``plan`` report use.

Reads (and token requests) that meet a transient failure (a connection
error, 409, 429, 5xx) are asked again a few times, with a short backoff,
in the session: they change nothing, and one lost answer must not make a
plan incomplete, a confirmation round wasted or a Keystone check fail.
Only a connection to Keystone's auth URL that cannot be made is given up after a
second try: an operator pointed at the wrong URL hears so at once. Mutations are
never retried here: the executor retries them, step by step, and audits every attempt.

Every request sent with a token takes a slot of its service from the process's
:class:`~reaper.budget.Budget` (``[executor] *_concurrency``) and tells it the answer:
a 429 or 503 pauses new requests to the service until ``Retry-After`` has passed (so
a retried read waits it out in full) and lowers its concurrency. Token and version
requests take none; a version document is read once (:mod:`reaper.versiondocs`).
"""

from __future__ import annotations

import collections
import importlib.metadata
import os
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import requests
import tenacity
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from reaper import budget as budgets
from reaper import config, credentials, log, versiondocs
from reaper.budget import gate

LOG = log.get(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Answers to a read that another try may turn into a success.
RETRIABLE_READ_STATUS = frozenset({409, 429, 500, 502, 503, 504})


class MutationRefused(RuntimeError):
    """A mutating request was attempted through a read-only connection."""

    def __init__(self, method: str, url: str) -> None:
        super().__init__(f"read-only: refused {method} {urlparse(url).path}")
        self.method = method
        self.url = url


class RequestCounter:
    """Thread-safe tally of requests by (method, endpoint ``host:port``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def add(self, method: str, url: str) -> None:
        parsed = urlparse(url)
        where = parsed.netloc or "?"
        with self._lock:
            self._counts[(method.upper(), where)] += 1

    def by_endpoint(self) -> dict[tuple[str, str], int]:
        """Counts by (method, ``host:port`` the request went to)."""
        with self._lock:
            return dict(self._counts)

    def by_method(self) -> dict[str, int]:
        with self._lock:
            totals: collections.Counter[str] = collections.Counter()
            for (method, _), n in self._counts.items():
                totals[method] += n
        return dict(sorted(totals.items()))

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    @property
    def mutating(self) -> int:
        return sum(n for m, n in self.by_method().items() if m not in SAFE_METHODS)


class GuardedSession(ks_session.Session):
    """A keystoneauth session that can refuse mutations, counts requests and retries reads."""

    read_only = False
    #: Tries of a read (or token request) before its failure is the caller's.
    read_attempts = 5
    #: Tries of a request to Keystone's auth URL (version discovery, token) that
    #: cannot connect: a second one covers a dropped keep-alive connection, and an
    #: auth URL nothing answers on is reported at once instead of after seconds.
    auth_connect_attempts = 2
    #: First backoff between tries, doubled each time (with jitter).
    read_backoff = 0.2
    #: Upper bound of one backoff; a ``Retry-After`` is the budget's to honour (in full).
    read_max_wait = 5.0
    #: How to wait between tries (tests replace it).
    sleep = staticmethod(time.sleep)

    #: Keep-alive connections per endpoint: discovery lists in parallel and the
    #: executor runs several requests per service at once; requests' default
    #: pool of 10 would open and discard connections under that load.
    pool_size = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._discovery_cache = versiondocs.Cache(self._discovery_cache)
        self.counter = RequestCounter()
        #: The request budget: the process's once ``connect`` gave it (a session of its own
        #: until then, so that a bare session shares no pause with anyone).
        self.budget: budgets.Budget = budgets.Budget(budgets.DEFAULT_CAPS)
        self.endpoints = budgets.Endpoints()
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=self.pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request(self, url: str, method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        method = method.upper()
        token = _is_token_request(url, kwargs)
        if self.read_only and method not in SAFE_METHODS and not token:
            raise MutationRefused(method, url)
        gated = kwargs.get("authenticated", True) is not False  # no slot: tokens, version docs
        url, kwargs = versiondocs.as_sent(self.auth, url, method, kwargs)
        if method not in SAFE_METHODS and not token:
            if kwargs.get("authenticated", True) is not False:
                self.counter.add(method, self._absolute(url, kwargs))
            return self._send(url, method, kwargs, gated)
        return self._read(url, method, kwargs, gated)

    def _send(self, url: str, method: str, kwargs: dict[str, Any], gated: bool) -> Any:
        """One request, holding a slot of its service (:mod:`reaper.budget.gate`)."""
        if not gated:
            return ks_session.Session.request(self, url, method, **kwargs)
        service = gate.service_of(self.endpoints, url, self._absolute(url, kwargs), kwargs)
        return gate.sent(
            self.budget, service, lambda: ks_session.Session.request(self, url, method, **kwargs)
        )

    def _read(self, url: str, method: str, kwargs: dict[str, Any], gated: bool) -> Any:
        """A read, asked again (tenacity) while the failure is a passing one."""
        authenticating = self._authenticating(url, kwargs)

        def attempt() -> Any:
            if kwargs.get("authenticated", True) is not False:
                self.counter.add(method, self._absolute(url, kwargs))
            response = self._send(url, method, kwargs, gated)
            if response.status_code in RETRIABLE_READ_STATUS:  # raise_exc=False callers
                raise _PassingFailure(f"HTTP {response.status_code}", response)
            return response

        def wait(state: tenacity.RetryCallState) -> float:
            # A Retry-After is waited out by the budget, which holds every new request
            # to the service (this one's next try included) until it has passed.
            return backoff(state)

        def stop(state: tenacity.RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            unreachable = authenticating and isinstance(exc, ks_exc.ConnectionError)
            limit = self.auth_connect_attempts if unreachable else self.read_attempts
            return state.attempt_number >= limit

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            # An authentication that fails for good is reported once, by the caller.
            (LOG.debug if authenticating else LOG.warning)(
                "read failed, retrying",
                method=method,
                path=urlparse(url).path,
                error=str(exc) if isinstance(exc, _PassingFailure) else type(exc).__name__,
                attempt=state.attempt_number,
                retry_in=round(state.next_action.sleep if state.next_action else 0.0, 2),
            )

        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.read_backoff, max=self.read_max_wait
        )
        retrying = tenacity.Retrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(_passing),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _PassingFailure as failure:
            return failure.response  # the caller asked not to raise: it reads the status

    def _authenticating(self, url: str, kwargs: Mapping[str, Any]) -> bool:
        """Whether this is keystoneauth talking to the auth URL: version discovery or a token.

        Both are sent without a token (other services' documents go to their own hosts).
        """
        auth_url = getattr(self.auth, "auth_url", None)
        if kwargs.get("authenticated") is not False or not auth_url:
            return False
        return urlparse(url).netloc == urlparse(str(auth_url)).netloc

    def _absolute(self, url: str, kwargs: Mapping[str, Any]) -> str:
        """The URL keystoneauth will send to: openstacksdk passes paths plus an endpoint.

        Resolved the way ``Session.request`` resolves it (an endpoint override,
        else the catalog entry the endpoint filter names), so the counter says
        which service each request reached, not just "somewhere".
        """
        if urlparse(url).netloc:
            return url
        base = kwargs.get("endpoint_override")
        if not base and kwargs.get("endpoint_filter"):
            try:
                base = self.get_endpoint(
                    kwargs.get("auth"), allow=kwargs.get("allow") or {}, **kwargs["endpoint_filter"]
                )
            except Exception:  # keystoneauth raises the real error when it sends
                base = None
        return f"{str(base).rstrip('/')}/{url.lstrip('/')}" if base else url


class ReadOnlySession(GuardedSession):
    read_only = True


class _PassingFailure(Exception):
    """A retriable status on a request made with ``raise_exc=False``."""

    def __init__(self, message: str, response: Any) -> None:
        super().__init__(message)
        self.response = response


def _passing(exc: BaseException) -> bool:
    """Whether another try of a read may succeed."""
    if isinstance(exc, (_PassingFailure, ks_exc.ConnectionError)):
        return True
    return isinstance(exc, ks_exc.HttpError) and exc.http_status in RETRIABLE_READ_STATUS


def _is_token_request(url: str, kwargs: Mapping[str, Any]) -> bool:
    # keystoneauth fetches tokens with authenticated=False; nothing else does.
    return kwargs.get("authenticated") is False and urlparse(url).path.rstrip("/").endswith(
        "/auth/tokens"
    )


def connect(
    conf: cfg.ConfigOpts,
    *,
    read_only: bool,
    source: credentials.CredentialSource | None = None,
) -> Any:
    """An admin openstacksdk ``Connection``; read-only ones refuse mutations.

    ``source`` is where the credentials come from (the CLI resolves it with
    its ``--os-cloud``); without one, the environment and ``[service_credentials]``
    decide (:func:`reaper.credentials.resolve`). Nothing is sent yet: a
    configuration that cannot make a connection (an unknown plugin or cloud,
    a missing option) raises :class:`~reaper.credentials.CredentialError`;
    :func:`authenticate` finds out whether Keystone accepts it.
    """
    source = source or credentials.resolve(conf, environ=os.environ)
    try:
        conn = _connect(conf, source, ReadOnlySession if read_only else GuardedSession)
    except credentials.CredentialError:
        raise
    except Exception as exc:
        problem = credentials.explain(exc, source)
        if problem is None:
            raise
        raise problem from exc
    if isinstance(conn.session, GuardedSession):
        conn.session.budget = budgets.for_process(budgets.BudgetSettings.from_conf(conf))
    auth = conn.session.auth
    # keystoneauth's v3 plugins say system_scope; its generic ones keep it private.
    if getattr(auth, "system_scope", None) or getattr(auth, "_system_scope", None):
        # Nova and Glance refuse what reaper asks of a system-scoped token, and Neutron
        # lists nothing to it: plans would miss resources. Fail before anything is asked.
        raise credentials.CredentialError(
            f"{source.where()} asks for a system-scoped token, which the services do not "
            "accept for what reaper needs: scope it to a project (project_name or "
            "project_id) where the user has the admin role",
            credentials.Reason.CONFIG,
        )
    return conn


def connect_region(region: Any, *, read_only: bool) -> Any:
    """A connection like :func:`connect`'s, for a cloud another program already resolved.

    ``openstack reaper ...`` gets its cloud from python-openstackclient
    (``--os-cloud``, ``OS_*``, every ``--os-*`` option): the same auth
    plugin (and so the same token), behind reaper's guarded session.
    """
    from openstack.config import cloud_region

    clone = cloud_region.CloudRegion(
        name=region.name,
        region_name=region.region_name,
        config=dict(region.config),
        auth_plugin=region.get_auth(),
        session_constructor=ReadOnlySession if read_only else GuardedSession,
    )
    conn = versiondocs.connection_class()(config=clone)
    conn.session.budget = budgets.for_process()
    return conn


def _connect(
    conf: cfg.ConfigOpts, source: credentials.CredentialSource, session_class: type[GuardedSession]
) -> Any:
    import openstack.config

    creds = conf[config.SERVICE_CREDENTIALS_GROUP]
    if source.origin is not credentials.Origin.CONFIG_AUTH:
        loader = openstack.config.OpenStackConfig(session_constructor=session_class)
        if source.origin is credentials.Origin.CONFIG_CLOUD:
            # The section that names the cloud may also choose its region and interface.
            region = loader.get_one(
                cloud=source.cloud, region_name=creds.region_name, interface=creds.interface
            )
        else:
            # The command line and the environment bring everything with them.
            region = loader.get_one(cloud=source.cloud or loader.envvar_key)
        return versiondocs.connection_class()(config=region)
    if source.auth_type not in _plugin_names():
        # Asked for it, stevedore would log a warning before keystoneauth raises this.
        raise ks_exc.NoMatchingPlugin(str(source.auth_type))
    # keystoneauth registers the options of the configured plugin, then reads them.
    auth = ks_loading.load_auth_from_conf_options(conf, config.SERVICE_CREDENTIALS_GROUP)
    session = ks_loading.load_session_from_conf_options(
        conf, config.SERVICE_CREDENTIALS_GROUP, auth=auth
    )
    guarded = session_class(
        auth=auth,
        verify=session.verify,
        cert=session.cert,
        timeout=session.timeout,
    )
    return versiondocs.connection_class()(
        session=guarded,
        region_name=creds.region_name,
        interface=creds.interface,
    )


def _plugin_names() -> set[str]:
    """keystoneauth's plugin names, read from the entry points without importing them."""
    return {ep.name for ep in importlib.metadata.entry_points(group="keystoneauth1.plugin")}


def authenticate(conn: Any, source: credentials.CredentialSource) -> None:
    """Ask Keystone for a token now, so that credentials it refuses are said first.

    Raises :class:`~reaper.credentials.CredentialError` (unreachable, 401...)
    with the auth URL in its message.
    """
    try:
        conn.authorize()
    except Exception as exc:
        problem = credentials.explain(exc, source, auth_url=auth_url_of(conn))
        if problem is None:
            raise
        raise problem from exc


def auth_url_of(conn: Any) -> str | None:
    """The Keystone URL a connection authenticates against."""
    url = getattr(getattr(conn.session, "auth", None), "auth_url", None)
    return str(url) if url else None


def counter_of(conn: Any) -> RequestCounter:
    """The request counter of a connection made by :func:`connect`."""
    session = conn.session
    if not isinstance(session, GuardedSession):
        raise TypeError("connection was not made by reaper.cloud.connect")
    return session.counter
