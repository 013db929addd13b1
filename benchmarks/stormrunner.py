"""One storm job (a deleted project or user): its discovery, its plan, reaper's executor over it.

A project's discovery is three per-project listings (servers, volumes,
ports, sent by hand as reaper's handlers send them) and what reaper's own
inventory code reads cloud-wide for it: Nova's server groups to the last
page (:func:`reaper.inventory.server_groups.cloud_groups`) and Glance's
images and memberships (:class:`reaper.inventory.image.ImageInventory`),
both read once for every project gone before the read began
(:mod:`reaper.inventory.cloudwide`) unless the mode says each plan reads alone.
A user's is its servers and volumes by ``user_id`` and its keypairs
(:func:`reaper.inventory.keypairs.owned_by`). A discovery that fails makes
the job undone (a plan marked incomplete is not a drained one).

The executor runs with the harness's runner: one DELETE per step (reaper's
own deleters for groups, memberships and keypairs), one listing per type to
confirm the asynchronous ones (servers, volumes).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from benchmarks.stormcloud import KINDS, project_id
from benchmarks.stormshared import user_id


class Counts:
    """What the harness's runners sent, by purpose (thread-safe)."""

    def __init__(self) -> None:
        import collections

        self.lock = threading.Lock()
        self.counter: collections.Counter[str] = collections.Counter()

    def add(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counter[what] += n


def drain(
    session: Any,
    conn: Any,
    job: str,
    caps: Mapping[str, int],
    counts: Counts,
    *,
    learn: bool,
    gone_by: dt.datetime | None,
) -> bool:
    """One job (``p<n>`` or ``u<n>``): discovery, then reaper's executor over the plan.

    ``gone_by`` is when the storm's deletions reached the controllers (the
    tombstones' receipt), ``None`` for every plan reading the cloud alone.
    """
    from reaper.executor import Executor, Limits, durations
    from reaper.model import IdentityKind, IdentityRef, Plan, Step, utcnow

    kind, number = job[0], int(job[1:])
    owner = project_id(number) if kind == "p" else user_id(number)
    runner = StormRunner(session, conn, owner, counts, user=kind == "u")
    try:
        resources = runner.discover_project(gone_by) if kind == "p" else runner.discover_user()
    except Exception as exc:  # the plan would be incomplete: not drained
        counts.add(f"discovery failed: {type(exc).__name__}")
        return False
    servers = tuple(f"delete:{r.type}:{r.id}" for r in resources if r.type == "compute.server")
    after_servers = ("block_storage.volume", "compute.server_group")
    steps = [
        Step(
            id=f"delete:{r.type}:{r.id}",
            action="delete",
            resource=r.ref,
            depends_on=servers if r.type in after_servers else (),
        )
        for r in resources
    ]
    identity = IdentityRef(IdentityKind.PROJECT if kind == "p" else IdentityKind.USER, owner)
    plan = Plan(
        identity=identity, created_at=utcnow(), resources=tuple(resources), steps=tuple(steps)
    )
    limits = Limits(concurrency=dict(caps), confirm_interval=0.5, confirm_max_interval=2.0)
    # As reaper-controller's workers do (cleanup/execute.py): one memory per process.
    executor = Executor(runner, limits=limits, durations=durations.PROCESS if learn else None)
    return executor.execute(plan).succeeded


class StormRunner:
    """Discovery of one identity, and the executor's runner for its plan."""

    PATHS: ClassVar[dict[str, tuple[str, str, str]]] = {
        "compute.server": ("compute", "/servers", "servers"),
        "block_storage.volume": ("block-storage", "/volumes", "volumes"),
        "network.port": ("network", "/v2.0/ports", "ports"),
    }
    TYPES: ClassVar[dict[str, str]] = {
        "servers": "compute.server",
        "volumes": "block_storage.volume",
        "ports": "network.port",
    }

    def __init__(
        self, session: Any, conn: Any, owner: str, counts: Counts, *, user: bool = False
    ) -> None:
        self.session = session
        self.conn = conn
        self.owner = owner
        self.counts = counts
        self.user = user
        self.resources: dict[Any, Any] = {}

    # -- discovery ----------------------------------------------------------------------

    def discover_project(self, gone_by: dt.datetime | None) -> list[Any]:
        from reaper.inventory.base import Scope
        from reaper.inventory.image import ImageInventory
        from reaper.inventory.server_groups import cloud_groups
        from reaper.model import IdentityKind, IdentityRef, Resource

        found = [
            Resource(type=self.TYPES[kind], id=rid, project_id=self.owner)
            for kind in KINDS
            for rid in sorted(self.list(kind, "discovery"))
        ]
        for group in cloud_groups(self.conn.compute, gone_by=gone_by):
            if group.project_id == self.owner:
                found.append(
                    Resource(type="compute.server_group", id=group.id, project_id=self.owner)
                )
        identity = IdentityRef(IdentityKind.PROJECT, self.owner)
        scope = Scope(identity, project_ids=frozenset({self.owner}), gone_by=gone_by)
        images = ImageInventory().discover(self.conn, scope)
        if images.errors:
            raise RuntimeError(f"images: {images.errors[0]}")
        found += images.resources
        return self._keep(found)

    def discover_user(self) -> list[Any]:
        from reaper.inventory import keypairs
        from reaper.model import Resource

        self.list("servers", "discovery")
        self.list("volumes", "discovery")
        held, errors = keypairs.owned_by(self.conn.compute, self.owner)
        if errors:
            raise RuntimeError(errors[0])
        found = [
            Resource(
                type="compute.keypair",
                id=f"{attrs['user_id']}:{attrs['name']}",
                name=attrs["name"],
                user_id=attrs["user_id"],
                attributes=attrs,
            )
            for attrs in held
        ]
        return self._keep(found)

    def _keep(self, found: list[Any]) -> list[Any]:
        self.resources = {r.ref: r for r in found}
        return found

    def list(self, kind: str, purpose: str) -> set[str]:
        service, path, key = self.PATHS[self.TYPES[kind]]
        suffix = "/detail" if kind != "ports" else ""
        owner = "user_id" if self.user else "project_id"
        self.counts.add(purpose)
        answer = self.session.get(
            f"{path}{suffix}?{owner}={self.owner}&all_tenants=1",
            endpoint_filter={"service_type": service, "interface": "public"},
        )
        return {item["id"] for item in answer.json()[key]}

    # -- the executor's runner ----------------------------------------------------------

    def precheck(self, steps: Any, resources: Any) -> dict[Any, Any]:
        return {}

    def lookup_first(self, step: Any, resource: Any) -> bool:
        return False

    def run(self, step: Any, resource: Any) -> Any:
        from keystoneauth1 import exceptions as ks_exc
        from openstack import exceptions as sdk_exc

        from reaper.actions.delete import DELETERS
        from reaper.budget import retry_after
        from reaper.executor import Attempt, Fatal, Result, Transient
        from reaper.model import utcnow

        rtype = step.resource.type
        try:
            if rtype not in self.PATHS:  # reaper's own deleter, through openstacksdk
                return Attempt(DELETERS[rtype](self.conn, self.resources[step.resource]))
            service, path, _ = self.PATHS[rtype]
            answer = self.session.delete(
                f"{path}/{step.resource.id}",
                endpoint_filter={"service_type": service, "interface": "public"},
            )
        except (ks_exc.NotFound, sdk_exc.NotFoundException):
            return Attempt(Result.GONE)
        except (ks_exc.HttpError, sdk_exc.HttpException) as exc:
            status = getattr(exc, "http_status", None) or getattr(exc, "status_code", None)
            headers = getattr(getattr(exc, "response", None), "headers", None)
            hint = retry_after.of_headers(headers, utcnow())
            if status in (429, 503):
                raise Transient(f"HTTP {status}", retry_after=hint) from exc
            raise Fatal(f"HTTP {status}") from exc
        return Attempt(Result.ACCEPTED if answer.status_code == 202 else Result.DONE)

    def confirm(self, rtype: str, action: str, pending: Mapping[str, Any]) -> Any:
        from reaper.executor import Confirmation

        kind = {"compute.server": "servers", "block_storage.volume": "volumes"}[rtype]
        listed = self.list(kind, "confirmation")
        return Confirmation(gone=frozenset(rid for rid in pending if rid not in listed))
