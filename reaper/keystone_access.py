"""The controller's connection to the cloud, and whether Keystone accepts it now.

Credentials that Keystone refuses (401), a user without the admin role
(403), an unreachable Keystone or a configuration that cannot make a
connection at all are not a tombstone's fault: every tombstone would fail
the same way, and each try with a wrong password brings the account closer
to Keystone's lockout. So the first such failure closes the gate: workers
stop claiming (the tombstones keep their state, nothing is touched, none is
given up), ``/healthz`` says why, ``reaper_keystone_failures_total`` counts
it. After a wait (``FIRST_WAIT``, doubling up to ``MAX_WAIT``) one caller is
let through to try again; the first success opens the gate for everyone.

Invariant: while the gate is closed, at most one caller per wait is
admitted, so Keystone sees one attempt per wait, whatever the number of
workers and tombstones.

:class:`KeystoneGate` is the gate (pure); :class:`CloudAccess` is what the
controller holds: its one admin connection, the gate, the health check
and the warm-up, all explaining failures the same way.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from keystoneauth1.exceptions import http as ks_http
from oslo_config import cfg

from reaper import cloud, config, credentials, log
from reaper.credentials import CredentialError, Reason

LOG = log.get(__name__)

FIRST_WAIT = 5.0
MAX_WAIT = 60.0
#: A project id Keystone never gives out (not hex): what the health check asks about.
NO_SUCH_PROJECT = "reaper-health-check"


class KeystoneGate:
    """The gate. ``explain`` turns an exception into a :class:`CredentialError`, or None."""

    def __init__(
        self,
        explain: Callable[[BaseException], CredentialError | None],
        *,
        on_failure: Callable[[Reason], None] = lambda reason: None,
        clock: Callable[[], float] = time.monotonic,
        first_wait: float = FIRST_WAIT,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self._explain = explain
        self._on_failure = on_failure
        self._clock = clock
        self._first_wait = first_wait
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._problem: CredentialError | None = None
        self._wait = 0.0
        self._next_try = 0.0

    @property
    def problem(self) -> CredentialError | None:
        """Why Keystone cannot be used, while the gate is closed."""
        with self._lock:
            return self._problem

    def seconds_to_retry(self) -> float:
        """How long until the gate lets a caller try again (0 when open)."""
        with self._lock:
            return max(0.0, self._next_try - self._clock()) if self._problem else 0.0

    def admit(self) -> bool:
        """Whether the caller may use Keystone now; while closed, one caller per wait."""
        with self._lock:
            if self._problem is None:
                return True
            now = self._clock()
            if now < self._next_try:
                return False
            self._next_try = now + self._wait  # the others wait for this caller's answer
            return True

    def failed(self, exc: BaseException) -> CredentialError | None:
        """Record ``exc`` if it means Keystone cannot be used; returns the operator's message."""
        problem = self._explain(exc)
        if problem is None:
            return None
        with self._lock:
            first = self._problem is None
            self._wait = (
                self._first_wait if first else min(self._max_wait, max(self._wait, 0.1) * 2)
            )
            self._next_try = self._clock() + self._wait
            changed = first or str(self._problem) != str(problem)
            self._problem = problem
        self._on_failure(problem.reason)
        if changed:
            LOG.error(
                "Keystone cannot be used; tombstones wait", error=str(problem), retry_in=self._wait
            )
        return problem

    def succeeded(self) -> None:
        """Keystone answered as an admin's credentials expect: open the gate."""
        with self._lock:
            was = self._problem
            self._problem, self._wait, self._next_try = None, 0.0, 0.0
        if was is not None:
            LOG.info("Keystone answers again; tombstones resume", previously=str(was))


class CloudAccess:
    """The controller's admin connection (made once, thread-safe) behind its gate."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        *,
        os_cloud: str | None = None,
        on_failure: Callable[[Reason], None] = lambda reason: None,
    ) -> None:
        self.conf = conf
        self.os_cloud = os_cloud
        self._on_failure = on_failure
        self._conn: Any = None
        self._source: credentials.CredentialSource | None = None
        self._lock = threading.Lock()
        longest = conf[config.SERVICE_CREDENTIALS_GROUP].keystone_retry_max_wait
        self.gate = KeystoneGate(
            self.explain,
            on_failure=self._failed,
            first_wait=min(FIRST_WAIT, longest),
            max_wait=longest,
        )

    def connection(self) -> Any:
        """The admin connection; raises :class:`CredentialError` while none can be made."""
        with self._lock:
            if self._conn is None:
                self._source = self._resolve()
                self._conn = cloud.connect(self.conf, read_only=False, source=self._source)
            return self._conn

    def _resolve(self) -> credentials.CredentialSource:
        return credentials.resolve(self.conf, os_cloud=self.os_cloud, environ=os.environ)

    def explain(self, exc: BaseException) -> CredentialError | None:
        """The operator's message for a failure met talking to Keystone, if it is one."""
        auth_url = cloud.auth_url_of(self._conn) if self._conn is not None else None
        return credentials.explain(exc, self._source, auth_url=auth_url)

    def describe(self) -> str:
        """Where the credentials come from, for the start-up log line."""
        try:
            source = self._resolve()
        except CredentialError as exc:
            return f"none usable: {exc}"
        if source.auth_type in credentials.EXPIRING_AUTH_TYPES:
            LOG.warning(
                "a token expires and the controller cannot renew it: use password or "
                "v3applicationcredential credentials",
                auth_type=source.auth_type,
            )
        return str(source)

    def check(self) -> None:
        """The health check: Keystone answers reaper's credentials as an admin's.

        A project id that cannot exist is asked for: an admin gets 404, a
        user without the admin role 403, bad credentials 401. While the gate
        waits, it says why without asking.
        """
        problem = self.gate.problem
        if problem is not None and not self.gate.admit():
            raise problem
        try:
            conn = self.connection()
            response = conn.identity.get(f"/projects/{NO_SUCH_PROJECT}", raise_exc=False)
            if response.status_code != 404:
                raise ks_http.from_response(response, "GET", response.url)
        except Exception as exc:
            problem = self.gate.failed(exc)
            if problem is None:
                raise
            raise problem from exc
        self.gate.succeeded()

    def warm_up(self) -> None:
        """Authenticate and discover every service's endpoint and versions now.

        The first plan would otherwise pay for a token and one version
        discovery per service (seconds), right when a deletion has just
        arrived and the operator expects reaper to act within a second.
        """
        try:
            conn = self.connection()
            cloud.authenticate(conn, self._source)  # type: ignore[arg-type]
        except Exception as exc:  # the gate says why; workers wait until Keystone answers
            if self.gate.failed(exc) is None:
                LOG.warning("warm-up of the cloud connection failed", error=str(exc))
            return
        try:
            for proxy in (conn.compute, conn.block_storage, conn.network, conn.image):
                proxy.get_endpoint()
                proxy.get_api_major_version()
        except Exception as exc:  # the first plan will try (and report) again
            LOG.warning("warm-up of the cloud connection failed", error=str(exc))

    def _failed(self, reason: Reason) -> None:
        self._on_failure(reason)
        if reason is Reason.FORBIDDEN and self._conn is not None:
            # The token carries the roles it was issued with: without a new one, a role
            # granted now would be seen only when this token expires, an hour later.
            with contextlib.suppress(Exception):
                self._conn.session.auth.invalidate()
