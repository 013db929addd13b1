"""Reaper's own account, witnessed by Keystone in one request.

A Keystone 404 about an identity counts as "gone" only when the same
Keystone, in the same call window, finds the account reaper is
authenticated as (:mod:`reaper.cleanup.verify`): a Keystone restored from
an old backup, another region's or a stale cache behind a proxy does not
know it, and its 404 proves nothing. That witness was two reads, reaper's
own project and its own user; it is now one:
``GET /v3/users/{own user}/projects``, which must list reaper's own project.

Why the one request says what the two said, no less:

* **The user exists.** Keystone answers that listing from the user's
  effective role assignments, and expanding them reads the user's groups
  from the identity backend, which raises "user not found" (404) for a user
  it does not know. An unknown user is never a 200, so never found.
* **The project exists.** The listed projects are read from the resource
  backend by id (``list_projects_from_ids``): a project Keystone does not
  hold is not listed, whatever assignment rows remain, so the project listed
  by its id exists.
* **Never stricter than the two reads.** The listing also asks that the
  user has a role on the project that Keystone's assignments show. Most
  often they do (reaper's token is scoped to that project), but a role that
  reaches the user only through a federation mapping's group is not in the
  listing, and a listing cut short by ``[DEFAULT] list_limit``
  (``"truncated": true``) may leave the project out. So a 200 without the
  project reads it by id (the user is already proven by the listing's 200):
  the old second read, only where the first could not say.
* **Anything else fails closed**: 403, 404, 5xx (after the session's retries),
  a body that is not Keystone's listing, a connection error. The caller
  reports "cannot say", never "gone".
"""

from __future__ import annotations

from typing import Any


class NotWitnessed(RuntimeError):
    """Keystone did not find reaper's own project and user."""


def witness(conn: Any) -> None:
    """Keystone finds reaper's own user and project (one request); else :class:`NotWitnessed`."""
    project_id, user_id = conn.current_project_id, conn.current_user_id
    if not project_id or not user_id:
        raise NotWitnessed(f"no own project or user to ask for ({project_id!r}, {user_id!r})")
    response = conn.identity.get(f"/users/{user_id}/projects", raise_exc=False)
    status = getattr(response, "status_code", None)
    if status != 200:
        raise NotWitnessed(f"HTTP {status} listing the projects of reaper's own user {user_id}")
    try:
        body = response.json()
        listed = {p["id"] for p in body["projects"]}
    except Exception as exc:
        raise NotWitnessed(f"not Keystone's project listing for user {user_id}: {exc}") from exc
    if project_id in listed:
        return
    # The user is proven; the listing could not say for the project (cut short, or a role
    # the assignments do not show): read it by id, as the two reads did.
    conn.identity.get_project(project_id)
