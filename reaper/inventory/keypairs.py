"""Nova keypairs, read and deleted so that their owner is certain.

Keypairs are the one compute resource a user owns, and Nova's API makes
their owner easy to get wrong: it honours ``user_id`` (an admin naming
another user) only from microversion 2.10. Below that, or behind anything
that drops the microversion header, it answers with the *caller's* own
keypairs whatever user is named, and its listing never says whose they are.
Taking the listing's word would plan reaper's own keypairs for deletion. So:

* every keypair request is pinned to :data:`MICROVERSION`, and an answer
  that does not say it was given at that microversion or later is refused
  (the keypairs are then not inspected, and the plan is incomplete);
* each keypair the listing names is fetched again by name with ``user_id``,
  and Nova's own ``user_id`` in that answer is the owner the inventory
  re-checks; a keypair whose owner cannot be confirmed (an error, an answer
  without ``user_id``) is left out, and the plan says so.

Deletion (``reaper.actions.delete``) is pinned the same way, so a Nova that
cannot honour ``user_id`` refuses it (406) rather than deleting the caller's
keypair of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from openstack import exceptions as sdk_exc
from openstack.compute.v2 import keypair

#: The first microversion at which Nova honours ``user_id`` on keypair requests.
MICROVERSION = "2.10"
_MINIMUM = (2, 10)


class MicroversionError(RuntimeError):
    """Nova answered a keypair request below the microversion that honours ``user_id``."""


def answered_at(headers: Mapping[str, str]) -> str | None:
    """The compute microversion an answer says it was given at, if it says."""
    value = headers.get("OpenStack-API-Version") or ""
    service, _, version = value.strip().partition(" ")
    if service.lower() == "compute" and version:
        return version.strip()
    legacy = headers.get("X-OpenStack-Nova-API-Version")
    return legacy.strip() if legacy else None


def honours_user_id(version: str | None) -> bool:
    """Whether an answer at ``version`` was filtered by the ``user_id`` asked for."""
    if not version:
        return False
    major, _, minor = version.partition(".")
    try:
        return (int(major), int(minor or 0)) >= _MINIMUM
    except ValueError:
        return False


def path(name: str | None, user_id: str) -> str:
    """The URL path (and query) of a user's keypairs, or of one of them by name."""
    base = "/os-keypairs" if name is None else f"/os-keypairs/{quote(name, safe='')}"
    return f"{base}?{urlencode({'user_id': user_id})}"


def request(compute: Any, method: str, name: str | None, user_id: str) -> Any:
    """One keypair request at :data:`MICROVERSION`; raises on an error or a lower answer."""
    response = compute.request(path(name, user_id), method, microversion=MICROVERSION)
    if response.status_code >= 400:
        sdk_exc.raise_from_response(response)
    version = answered_at(response.headers)
    if not honours_user_id(version):
        raise MicroversionError(
            f"Nova answered {method} /os-keypairs at microversion {version or '(none)'}, "
            f"not {MICROVERSION} or later: it would not honour user_id"
        )
    return response


def owned_by(compute: Any, user_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The keypairs Nova says ``user_id`` owns, each re-read; and why some may be missing.

    Never raises: a failure is an entry of the second list, which makes the
    plan incomplete, and the keypairs concerned are left out (fail closed).
    Each keypair is the SDK's vocabulary (``to_dict(computed=False)``) with
    ``user_id`` as Nova gave it in the answer for that keypair alone.
    """
    try:
        listing = request(compute, "GET", None, user_id).json()
    except Exception as exc:
        return [], [f"keypairs of user {user_id} not inspected: {_why(exc)}"]
    names = sorted({k["keypair"]["name"] for k in listing.get("keypairs", ())})
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in names:
        try:
            body = request(compute, "GET", name, user_id).json()
        except sdk_exc.NotFoundException:
            continue  # deleted since the listing
        except Exception as exc:
            errors.append(f"keypair {name!r} of user {user_id}: owner not confirmed: {_why(exc)}")
            continue
        attrs = keypair.Keypair.existing(**body).to_dict(computed=False)
        attrs.pop("private_key", None)
        attrs.pop("location", None)
        attrs["name"] = attrs.get("name") or name
        found.append(attrs)
    return found, errors


def delete(compute: Any, name: str, user_id: str) -> None:
    """Delete ``user_id``'s keypair ``name``; NotFoundException when it is not there."""
    request(compute, "DELETE", name, user_id)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
