"""The executor's Runner over openstacksdk: actions, error classes, listings.

This is where a service's answer becomes an executor verdict:

* 404 on a removal -> ``GONE``; on anything else -> fatal;
* 409, 429 (with ``Retry-After``), 5xx, connection errors and timeouts ->
  transient, retried by the executor; so is Cinder's 400 "volume status
  must be available" that a volume answers while it is still detaching.
  409 and that 400 are conflicts: retried within the step's retry budget
  (``[executor] conflict_retry_budget``), then blocked;
* any other 4xx -> fatal, with the service's message (but Neutron's 400
  ``SubnetPoolDeleteError``, a pool with allocations, is a conflict);
* a removal refused as a conflict is re-examined at once: who uses the
  resource now (``reaper.inventory.liveuse.users_of``, the planner's own
  by-resource listings)? A project Keystone still has -> ``InUse``: the
  step is kept for that project, not retried. The deleted owner's own
  resource (still being deleted) or a deleted project's -> the conflict,
  retried within its budget, its message saying who; users that could not
  be listed -> the conflict likewise. So Neutron's ``NetworkInUse``,
  ``SubnetInUse``, ``SecurityGroupInUse``, ``RbacPolicyInUse``,
  ``AddressScopeInUse``, Cinder's refusal of an attached volume (or one
  awaiting a transfer) and Glance's "in use" are findings, not a retry storm;
* a mutation refused by the read-only session -> ``WOULD`` (dry-run), with
  the request that would have been sent.

Confirmations list one resource type per project per round, whatever the
number of resources waiting on it. A detach is the exception: it is
confirmed by the volume's own attachment list (the volume may be another
project's, which a listing of the server's project never shows) and by
Nova's list of the server's attachments (Nova forgets its block device
mapping only after Cinder's attachment is gone, and until it has, deleting
the server would still delete a volume attached with delete_on_termination).

The same listings look up, before they are deleted, the ports Nova creates
for a server: Nova deletes them with the server, so once the server is gone
a DELETE would only answer 404.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import requests
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from reaper.actions import dns, load_balancer, orchestration, shared_file_system
from reaper.actions.base import Action, StepKey
from reaper.actions.registry import action_classes
from reaper.budget import retry_after
from reaper.cloud import MutationRefused
from reaper.executor import (
    Attempt,
    Checked,
    Confirmation,
    Conflict,
    Fatal,
    InUse,
    Result,
    Transient,
)
from reaper.inventory import liveuse
from reaper.inventory.uses import LOOKED_UP
from reaper.model import Resource, ResourceRef, Step, utcnow

TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})
#: Cinder's 400 for a volume that is not (yet) available: detaching, snapshot going.
_CINDER_NOT_YET = ("status must be", "in-use", "has snapshots", "dependent snapshots")
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ks_exc.ConnectionError,
    ks_exc.RetriableConnectionFailure,
    requests.ConnectionError,
    requests.Timeout,
    ConnectionError,
    TimeoutError,
)

#: Confirmation listings of the types other modules delete: (conn, project) -> objects.
LISTINGS: Mapping[str, Callable[[Any, str | None], Any]] = {
    **load_balancer.LISTINGS,
    **dns.LISTINGS,
    **shared_file_system.LISTINGS,
    **orchestration.LISTINGS,
}

Prechecker = Callable[
    [Sequence[Step], Mapping[ResourceRef, Resource]], Mapping[ResourceRef, Checked]
]
#: Who uses a resource now: (conn, resource) -> users (``liveuse.users_of``).
UsersOf = Callable[[Any, Resource], liveuse.Users]
#: Neutron's 400s that mean "something still uses it".
_NEUTRON_IN_USE_400 = frozenset({"SubnetPoolDeleteError"})


class SdkRunner:
    def __init__(
        self,
        conn: Any,
        *,
        actions: Mapping[str, type[Action]] | None = None,
        prechecker: Prechecker | None = None,
        plan_hash: str = "",
        users_of: UsersOf = liveuse.users_of,
    ) -> None:
        """``plan_hash``: the plan whose steps it runs; actions name what they create after it.

        ``users_of``: who uses a resource whose removal was refused as a conflict.
        """
        self.conn = conn
        self.plan_hash = plan_hash
        self._users_of = users_of
        self._actions = {name: cls() for name, cls in (actions or action_classes()).items()}
        self._prechecker = prechecker

    def precheck(
        self, steps: Sequence[Step], resources: Mapping[ResourceRef, Resource]
    ) -> Mapping[ResourceRef, Checked]:
        return self._prechecker(steps, resources) if self._prechecker else {}

    def run(self, step: Step, resource: Resource | None) -> Attempt:
        action = self._actions.get(step.action)
        if action is None:
            raise Fatal(f"no action named {step.action!r} is registered")
        if resource is None:
            raise Fatal(f"{step.resource} is not in the plan's resources")
        try:
            return action.run(self.conn, resource, step.params, StepKey(self.plan_hash, step.id))
        except MutationRefused as refused:
            return Attempt(Result.WOULD, f"would {refused.method} {urlparse(refused.url).path}")
        except sdk_exc.NotFoundException as exc:
            if action.removes:
                return Attempt(Result.GONE, "404")
            raise Fatal(_message(exc)) from exc
        except sdk_exc.HttpException as exc:
            verdict = classify_http(exc, resource)
            if isinstance(verdict, Conflict) and action.removes and resource.type in LOOKED_UP:
                verdict = self._reexamine(verdict, resource)
            raise verdict from exc
        except _CONNECTION_ERRORS as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        except sdk_exc.ResourceTimeout as exc:
            raise Transient(f"timed out: {exc}") from exc

    def _reexamine(self, conflict: Conflict, resource: Resource) -> Exception:
        """A refused removal: kept for a live user, else the conflict, saying who uses it."""
        users = self._users_of(self.conn, resource)
        if users.live:
            return InUse(f"kept: {users.said()}"[:1000], [u.as_dict() for u in users.live])
        if users.error:
            said = f"who uses it is not known: {users.error}"
        elif users.others:
            names = ", ".join(f"{u.type} {u.id} of {u.project_id}" for u in users.others[:3])
            more = f" and {len(users.others) - 3} more" if len(users.others) > 3 else ""
            said = f"no live project uses it, the owner's or deleted projects' do ({names}{more})"
        else:
            said = "no user of it found"
        return Conflict(f"{conflict}; {said}", retry_after=conflict.retry_after)

    def lookup_first(self, step: Step, resource: Resource | None) -> bool:
        """A server's port: Nova deletes the ports it made with the server (and the
        port's deletion waits for the server's); a load balancer's VIP port goes with
        the load balancer likewise. Ports the user made and attached stay, so they are
        looked up rather than assumed gone."""
        owner = str(resource.attributes.get("device_owner") or "") if resource else ""
        return (
            step.action == "delete"
            and resource is not None
            and resource.type == "network.port"
            and (owner.startswith("compute:") or owner == "Octavia")
        )

    def confirm(self, rtype: str, action: str, pending: Mapping[str, Resource]) -> Confirmation:
        if rtype == "compute.volume_attachment":
            return self._confirm_detached(pending)
        by_project: dict[str | None, list[Resource]] = collections.defaultdict(list)
        for res in pending.values():
            by_project[res.project_id].append(res)
        gone: set[str] = set()
        failed: dict[str, str] = {}
        for project_id, items in by_project.items():
            listed = self._list(rtype, project_id, details=action != "delete")
            for res in items:
                verdict = _judge(rtype, action, res, listed)
                if verdict is True:
                    gone.add(res.id)
                elif isinstance(verdict, str):
                    failed[res.id] = verdict
        return Confirmation(gone=frozenset(gone), failed=failed)

    def _confirm_detached(self, pending: Mapping[str, Resource]) -> Confirmation:
        """One Nova attachment list per server, then one GET per volume Nova no longer maps."""
        by_server: dict[str, list[Resource]] = collections.defaultdict(list)
        for res in pending.values():
            by_server[res.attributes["server_id"]].append(res)
        gone: set[str] = set()
        for server_id, items in by_server.items():
            try:
                mapped = {a.volume_id for a in self.conn.compute.volume_attachments(server_id)}
            except sdk_exc.NotFoundException:
                mapped = set()  # the server is gone, and its mappings with it
            for res in items:
                volume_id = res.attributes["volume_id"]
                if volume_id in mapped:
                    continue
                try:
                    volume = self.conn.block_storage.get_volume(volume_id)
                except sdk_exc.NotFoundException:
                    gone.add(res.id)
                    continue
                servers = {a.get("server_id") for a in volume.attachments or ()}
                if server_id not in servers:
                    gone.add(res.id)
        return Confirmation(gone=frozenset(gone))

    def _list(self, rtype: str, project_id: str | None, *, details: bool = True) -> dict[str, Any]:
        """One listing of ``rtype`` for a project: id -> object.

        Servers are listed without details (ids only) when ``details`` is
        false: a deletion is judged by presence alone (:func:`_judge` reads no
        server field for it), and Nova builds each server's full view for a
        detailed listing, CPU it takes from the deletions being waited for,
        every listing, for every server still there.
        """
        bs, compute = self.conn.block_storage, self.conn.compute
        if rtype == "compute.server":
            items = compute.servers(details=details, all_projects=True, project_id=project_id)
        elif rtype == "block_storage.volume":
            items = bs.volumes(details=True, all_projects=True, project_id=project_id)
        elif rtype == "block_storage.snapshot":
            items = bs.snapshots(details=True, all_projects=True, project_id=project_id)
        elif rtype == "block_storage.backup":
            items = bs.backups(details=True, all_projects=True, project_id=project_id)
        elif rtype == "network.port":
            items = self.conn.network.ports(project_id=project_id)
        elif rtype in LISTINGS:
            items = LISTINGS[rtype](self.conn, project_id)
        else:
            raise Fatal(f"no confirmation listing for {rtype}")
        return {obj.id: obj for obj in items}


def _judge(rtype: str, action: str, res: Resource, listed: Mapping[str, Any]) -> bool | str | None:
    """True when confirmed, a reason when failed, None while still waiting."""
    obj = listed.get(res.id)
    if action == "delete":
        if obj is None:
            return True
        status = str(getattr(obj, "status", "") or "").lower()
        if str(getattr(obj, "provisioning_status", "") or "").upper() == "ERROR":
            return f"{rtype} {res.id} went to ERROR while being deleted"
        if status == "error_deleting":
            reason = getattr(obj, "reason", None)
            return f"{rtype} {res.id} is in status error_deleting" + (
                f": {reason}" if reason else ""
            )
        return None
    # stop, quarantine: reached SHUTOFF
    if obj is None:
        return f"{rtype} {res.id} disappeared while being stopped"
    if (obj.status or "").upper() == "SHUTOFF":
        return True
    if (obj.status or "").upper() == "ERROR":
        return f"{rtype} {res.id} went to ERROR while being stopped"
    return None


def classify_http(exc: sdk_exc.HttpException, resource: Resource) -> Exception:
    status = exc.status_code or 0
    message = _message(exc)
    if status == 409:
        return Conflict(message, retry_after=_retry_after(exc))
    if status in TRANSIENT_STATUS:
        return Transient(message, retry_after=_retry_after(exc))
    if status == 400 and _neutron_error_type(exc) in _NEUTRON_IN_USE_400:
        return Conflict(message)
    if (
        status == 400
        and resource.type.startswith("block_storage.")
        and any(hint in message.lower() for hint in _CINDER_NOT_YET)
    ):
        return Conflict(message)
    return Fatal(message)


def _neutron_error_type(exc: sdk_exc.HttpException) -> str | None:
    """``NeutronError.type`` of Neutron's answer (``SubnetInUse``...), if it is one."""
    response = getattr(exc, "response", None)
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return None
    error = body.get("NeutronError") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def _retry_after(exc: sdk_exc.HttpException) -> float | None:
    """The answer's ``Retry-After`` in seconds (a number or an HTTP date), if it has one."""
    response = getattr(exc, "response", None)
    return retry_after.of_headers(getattr(response, "headers", None), utcnow())


def _message(exc: sdk_exc.HttpException) -> str:
    status = getattr(exc, "status_code", None)
    details = getattr(exc, "details", None) or str(exc)
    return f"HTTP {status}: {details}"[:500] if status else str(exc)[:500]
