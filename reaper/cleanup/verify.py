"""Ask Keystone whether an identity is really gone, before anything is touched.

A notification is a claim, not a fact: anyone with access to the bus can
publish one, and redelivery can replay an old one. So every pipeline run
starts here, and only Keystone's own answer counts:

* 404 -> ``GONE``, but only when Keystone itself said it: the error body is
  Keystone's JSON error (``{"error": {"code": 404, ...}}``, see
  :func:`keystone_not_found`), and reaper's own project and user are found
  in the same call window (:func:`witnessed`). A 404 from a proxy, a wrong
  endpoint or a Keystone restored from an old backup (which does not know
  reaper's own account either) is "cannot say", never "gone";
* found and disabled -> ``DISABLED`` (quarantine policies may act);
* found and enabled -> ``ENABLED`` (reaper must not touch it);
* anything else (timeout, connection refused, 5xx, 401, 403) ->
  :class:`VerificationError`. An unreachable Keystone is never "gone".

Asked again before anything is executed, whoever executes:
:func:`verify_before_execute` is that rule, called by the worker and by
``reaper apply`` alike.
"""

from __future__ import annotations

import concurrent.futures
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reaper.cleanup import ownaccount
from reaper.model import IdentityKind, IdentityRef, Plan, trigger_name


class IdentityState(str, enum.Enum):
    GONE = "gone"
    DISABLED = "disabled"
    ENABLED = "enabled"


@dataclass(frozen=True)
class Verification:
    identity: IdentityRef
    state: IdentityState
    name: str | None = None
    domain_id: str | None = None

    @property
    def gone(self) -> bool:
        return self.state is IdentityState.GONE

    @property
    def trigger(self) -> str:
        """The policy trigger this verified state stands for."""
        return trigger_name(self.identity.kind, disabled=not self.gone)

    def allows(self, *, disabled_ok: bool = False) -> bool:
        """Whether reaper may plan for this identity."""
        return self.gone or (disabled_ok and self.state is IdentityState.DISABLED)

    def refusal(self) -> str:
        what = f"{self.identity.kind.value} {self.identity.id}"
        if self.name:
            what += f" ({self.name})"
        if self.state is IdentityState.ENABLED:
            return f"{what} still exists and is enabled in Keystone: refusing to touch it"
        if self.state is IdentityState.DISABLED:
            return f"{what} is disabled, not deleted: pass --disabled-ok to plan for it"
        return f"{what} is gone"


class VerificationError(RuntimeError):
    """Keystone could not say; retry later, never act."""


class Refused(RuntimeError):
    """Keystone says the identity is still there: reaper must not touch it."""

    def __init__(self, verification: Verification) -> None:
        super().__init__(verification.refusal())
        self.verification = verification


#: Keystone's answer about one identity: :func:`verify` over a connection, or a test's.
IdentityCheck = Callable[[IdentityRef], Verification]


def verify_before_execute(
    check: IdentityCheck, plan: Plan, *, disabled_ok: bool = False
) -> Verification:
    """Ask Keystone again, just before ``plan`` runs, that its identity may be touched.

    Time has passed since the plan was made (an approval, a grace period, a
    retry, a saved plan file), so the identity may exist again. A plan made
    for a disable may run while the identity is still disabled; any other
    plan only when it is gone, unless the operator said ``disabled_ok``.
    Raises :class:`Refused`, or :class:`VerificationError` when Keystone
    cannot say (retry later, never act).
    """
    verification = check(plan.identity)
    if not verification.allows(disabled_ok=disabled_ok or plan.trigger.endswith(".disabled")):
        raise Refused(verification)
    return verification


def verify(conn: Any, identity: IdentityRef) -> Verification:
    """Keystone's answer about ``identity``, through an admin connection.

    A 404 counts as ``GONE`` only with reaper's own project and user found
    in the same call window (:func:`witnessed`): two requests (the witness is
    one, :mod:`~reaper.cleanup.ownaccount`), sent at once, so a deletion's
    reaction waits one round trip to Keystone, not two. The witness is the
    same whichever answer arrives first: the Keystone that said 404 knows
    reaper's account at that moment. When the identity is found, the
    witness's answer is not needed and not waited for.
    """
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reaper-witness")
    try:
        witness = [pool.submit(_found, conn)]
        verification = ask(conn, identity)
        if not verification.gone:
            return verification
        problems = [problem for future in witness if (problem := future.result()) is not None]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if problems:
        raise VerificationError(
            f"Keystone said {identity} is gone, but could not confirm reaper's own project "
            f"and user in the same call window: {problems[0]}"
        )
    return verification


def _found(conn: Any) -> str | None:
    """``None`` if Keystone finds reaper's own project and user; else why not."""
    try:
        ownaccount.witness(conn)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def ask(conn: Any, identity: IdentityRef) -> Verification:
    """Keystone's answer about ``identity`` (one request), its 404 not yet witnessed.

    ``GONE`` here means Keystone's own 404 body (:func:`keystone_not_found`)
    and nothing more: a caller may count it only together with a witness of
    reaper's own account in the same call window (:func:`witnessed`, or the
    sweep's batch witness in :mod:`reaper.cleanup.batchverify`).
    """
    from openstack import exceptions as sdk_exc

    getter = {
        IdentityKind.PROJECT: "get_project",
        IdentityKind.USER: "get_user",
        IdentityKind.DOMAIN: "get_domain",
    }[identity.kind]
    try:
        # conn.identity itself may need a token (endpoint discovery): inside the try.
        found = getattr(conn.identity, getter)(identity.id)
    except sdk_exc.NotFoundException as exc:
        if not keystone_not_found(getattr(exc, "response", None)):
            raise VerificationError(
                f"a 404 for {identity} that is not Keystone's own answer (a proxy, a wrong "
                f"endpoint?): {_shown(getattr(exc, 'response', None))}"
            ) from exc
        return Verification(identity, IdentityState.GONE)
    except sdk_exc.SDKException as exc:
        raise VerificationError(
            f"Keystone could not confirm {identity}: {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:  # connection errors from keystoneauth/requests
        raise VerificationError(
            f"Keystone unreachable while checking {identity}: {type(exc).__name__}: {exc}"
        ) from exc
    enabled = getattr(found, "is_enabled", True)
    return Verification(
        identity,
        IdentityState.ENABLED if enabled is not False else IdentityState.DISABLED,
        name=getattr(found, "name", None),
        domain_id=getattr(found, "domain_id", None),
    )


def keystone_not_found(response: Any) -> bool:
    """Whether ``response`` is Keystone's own 404: its JSON error body, code 404.

    Keystone answers every error with ``{"error": {"code": ..., "title": ...,
    "message": ...}}``; a load balancer's or web server's 404 page, an empty
    body, or another service's error shape is not Keystone saying "no such
    identity".
    """
    if response is None or getattr(response, "status_code", None) != 404:
        return False
    try:
        body = response.json()
    except Exception:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict)
        and error.get("code") == 404
        and isinstance(error.get("title"), str)
        and isinstance(error.get("message"), str)
    )


def witnessed(conn: Any, identity: IdentityRef) -> None:
    """Reaper's own project and user exist, asked right after the 404 about ``identity``.

    A Keystone that does not know the account reaper is authenticated as
    (restored from an old backup, another region's, a stale cache behind a
    proxy) cannot be trusted to say that anything is gone. Raises
    :class:`VerificationError` unless both are found.
    """
    try:
        own_account(conn)
    except VerificationError as exc:
        raise VerificationError(f"Keystone said {identity} is gone, but {exc}") from exc


def own_account(conn: Any) -> None:
    """Keystone finds reaper's own project and user (one request); else VerificationError."""
    try:
        ownaccount.witness(conn)
    except Exception as exc:
        raise VerificationError(
            "could not confirm reaper's own project and user in the same call window: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _shown(response: Any) -> str:
    if response is None:
        return "no response"
    text = (getattr(response, "text", "") or "")[:120].replace("\n", " ")
    kind = getattr(response, "headers", {}).get("Content-Type", "?")
    return f"HTTP {getattr(response, 'status_code', '?')} {kind}: {text!r}"
