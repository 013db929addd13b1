"""The periodic sweep: owners of resources that no longer exist in Keystone.

Notifications get lost (a broker restarted with a non-durable queue, a
listener that was down longer than the queue's TTL, a Keystone without
``driver = messagingv2``). The sweep catches those deletions: it lists
Keystone's projects, domains and users once, lists each resource type
cloud-wide once (paginated; a handful of requests per type, not per
resource), and every owner it cannot find in Keystone becomes a candidate.
Each candidate is verified individually (404) before a tombstone with
trigger ``sweep`` is opened for it, and the tombstone then goes down the
same road as a notified one. Resources younger than ``[sweep] min_age``
are ignored, so a project being created is never mistaken for an orphan.

A sweep that finds more orphaned owners than ``[sweep] max_orphans``, or
than ``max_orphan_fraction`` of the projects Keystone lists, opens nothing
(:func:`over_limit`): thousands of "deleted" owners at once is far likelier
a Keystone that answers 404 for everything (a wrong endpoint, one restored
from an old backup) than a real wave of deletions. It is held for an
operator, who reviews the list (``reaper sweep``) and approves it
(``reaper sweep --open --approve``); the controller logs an alert, counts
``reaper_sweeps_held_total`` and audits the hold.

Each sweep also re-checks the ``waiting`` tombstones (what a cleanup kept
because a live project uses it) and sends round again those a live
project stopped using (:mod:`reaper.cleanup.waitlist`).

Only one controller sweeps at a time: on PostgreSQL under an advisory
lock; on SQLite there is only one controller. The controller's
:class:`Sweeper` records what it opened in the audit trail itself.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import text

from reaper import credentials, log
from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup import lifecycle, waitlist
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import VerificationError
from reaper.inventory.base import gather
from reaper.keystone_access import KeystoneGate
from reaper.model import IdentityKind, IdentityRef, Trigger, TriggerSource, trigger_name, utcnow
from reaper.store import Known, Store

LOG = log.get(__name__)
LOCK_NAME = "reaper.sweep"


@dataclasses.dataclass(frozen=True)
class Orphan:
    """An owner Keystone does not know, and what it left behind."""

    identity: IdentityRef
    resources: int
    examples: tuple[str, ...]
    verified_gone: bool = False
    #: Ids of every resource the listings found it owning (``examples`` shows a few).
    resource_ids: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class SweepResult:
    orphans: list[Orphan]
    #: Every project, user and domain Keystone listed, with its domain (for the directory).
    known: list[Known]


def find_orphans(
    cloud: Cloud, *, min_age: dt.timedelta = dt.timedelta(0), now: dt.datetime | None = None
) -> SweepResult:
    """Owners of resources (projects, users) that Keystone does not list, verified gone.

    The listings are cloud-wide, through ``cloud.conn``; each candidate is
    verified through ``cloud.keystone``.
    """
    now = now or utcnow()
    conn = cloud.conn
    compute, bs, net, img, ident = (
        conn.compute,
        conn.block_storage,
        conn.network,
        conn.image,
        conn.identity,
    )
    listed = gather(
        {
            "projects": lambda: list(ident.projects()),
            "domains": lambda: list(ident.domains()),
            "users": lambda: list(ident.users()),
            "servers": lambda: list(compute.servers(details=True, all_projects=True)),
            "volumes": lambda: list(bs.volumes(details=True, all_projects=True)),
            "snapshots": lambda: list(bs.snapshots(details=True, all_projects=True)),
            "networks": lambda: list(net.networks()),
            "ports": lambda: list(net.ports()),
            "floating_ips": lambda: list(net.ips()),
            "routers": lambda: list(net.routers()),
            "images": lambda: list(img.images(visibility="all")),
        }
    )
    known_projects = {p.id for p in listed["projects"]} | {d.id for d in listed["domains"]}
    known_users = {u.id for u in listed["users"]}
    owned: dict[IdentityRef, list[str]] = collections.defaultdict(list)
    cutoff = now - min_age
    for kind, items in listed.items():
        if kind in ("projects", "domains", "users"):
            continue
        for obj in items:
            if not _old_enough(getattr(obj, "created_at", None), cutoff):
                continue
            project = getattr(obj, "owner", None) if kind == "images" else obj.project_id
            if project and project not in known_projects:
                owned[IdentityRef(IdentityKind.PROJECT, project)].append(f"{kind}:{obj.id}")
            user = getattr(obj, "user_id", None) if kind in ("servers", "volumes") else None
            if user and user not in known_users:
                owned[IdentityRef(IdentityKind.USER, user)].append(f"{kind}:{obj.id}")
    orphans = []
    for identity, refs in sorted(owned.items()):
        try:
            gone = cloud.keystone(identity).gone
        except VerificationError as exc:
            LOG.warning("sweep could not verify an owner", identity=str(identity), error=str(exc))
            continue
        if gone:
            ids = frozenset(ref.split(":", 1)[1] for ref in refs)
            examples = tuple(sorted(refs)[:5])
            orphans.append(Orphan(identity, len(refs), examples, True, resource_ids=ids))
    known = (
        [
            Known(IdentityRef(IdentityKind.PROJECT, p.id), p.domain_id, p.name)
            for p in listed["projects"]
        ]
        + [
            Known(IdentityRef(IdentityKind.USER, u.id), u.domain_id, u.name)
            for u in listed["users"]
        ]
        + [
            Known(IdentityRef(IdentityKind.DOMAIN, d.id), None, getattr(d, "name", None))
            for d in listed["domains"]
        ]
    )
    return SweepResult(orphans, known)


def over_limit(settings: Settings, found: SweepResult) -> str | None:
    """Why this sweep's orphans must wait for an operator; None when within the limits."""
    count = len([o for o in found.orphans if o.verified_gone])
    projects = sum(1 for k in found.known if k.identity.kind is IdentityKind.PROJECT)
    most = settings.sweep_max_orphans
    if most and count > most:
        return f"{count} orphaned owners exceed [sweep] max_orphans = {most}"
    fraction = settings.sweep_max_orphan_fraction
    if fraction and count > fraction * max(projects, 1):
        return (
            f"{count} orphaned owners exceed [sweep] max_orphan_fraction = {fraction} of the "
            f"{projects} projects Keystone lists"
        )
    return None


def identities(cloud: Cloud) -> list[Known]:
    """Every project, user and domain Keystone lists now, with its domain: the directory's."""
    ident = cloud.conn.identity
    return (
        [
            Known(IdentityRef(IdentityKind.PROJECT, p.id), p.domain_id, p.name)
            for p in ident.projects()
        ]
        + [Known(IdentityRef(IdentityKind.USER, u.id), u.domain_id, u.name) for u in ident.users()]
        + [
            Known(IdentityRef(IdentityKind.DOMAIN, d.id), None, getattr(d, "name", None))
            for d in ident.domains()
        ]
    )


def open_tombstones(store: Store, orphans: list[Orphan]) -> list[tuple[Orphan, bool]]:
    """A tombstone (trigger ``sweep``) per verified orphan; True where it is new or reopened."""
    opened = []
    for orphan in orphans:
        if not orphan.verified_gone:
            continue
        event_type = trigger_name(orphan.identity.kind)
        result = store.tombstones.record_trigger(
            orphan.identity, Trigger(source=TriggerSource.SWEEP, event_type=event_type)
        )
        # A gone owner whose tombstone was refused (it existed then) is looked at again;
        # so is one whose cleanup completed but who still owns what it did not mean to leave.
        reopened = lifecycle.reopen_if_needed(
            store, result, event_type
        ) or lifecycle.reopen_if_left_behind(store, result, orphan.resource_ids)
        opened.append((orphan, result.created or reopened))
    return opened


@contextlib.contextmanager
def exclusive(store: Store, name: str = LOCK_NAME) -> Iterator[bool]:
    """Whether this process may sweep now: a session lock only one holder gets.

    PostgreSQL's advisory lock, MySQL's ``GET_LOCK`` (both held by the
    session, so released explicitly before the connection goes back to the
    pool); always true on SQLite, which has one controller.
    """
    db = store.db
    if db.is_postgresql:
        key = zlib.crc32(name.encode()) & 0x7FFFFFFF
        take, give = "SELECT pg_try_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)"
        params: dict[str, Any] = {"k": key}
    elif db.is_mysql:
        # Lock names are server-wide: scoped to this database, so deployments
        # sharing a server do not wait for each other's sweeps.
        database = zlib.crc32((db.engine.url.database or "").encode())
        take, give = "SELECT GET_LOCK(:k, 0)", "SELECT RELEASE_LOCK(:k)"
        params = {"k": f"{name}.{database:08x}"}
    else:
        yield True
        return
    with db.engine.connect() as conn:
        got = bool(conn.execute(text(take), params).scalar())
        try:
            yield got
        finally:
            if got:
                conn.execute(text(give), params)
                conn.commit()


class Sweeper:
    """The controller's sweep: one at a time across controllers, audited, waking the workers."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        trail: AuditTrail,
        cloud: Callable[[], Cloud],
        on_opened: Callable[[], None] = lambda: None,
        gate: KeystoneGate | None = None,
        metrics: Any = None,
    ) -> None:
        self.gate = gate
        self.metrics = metrics
        self.settings = settings
        self.store = store
        self.trail = trail
        self.cloud = cloud
        self.on_opened = on_opened

    def sweep_once(self) -> int:
        """One sweep, if no other controller is sweeping; returns tombstones opened.

        Skipped while Keystone cannot be used (``gate``); a failure that says
        the credentials or Keystone are at fault closes the gate.
        """
        if self.gate is not None and not self.gate.admit():
            LOG.warning("sweep skipped: Keystone cannot be used", error=str(self.gate.problem))
            return 0
        try:
            with exclusive(self.store) as mine:
                if not mine:
                    return 0
                cloud = self.cloud()
                found = find_orphans(cloud, min_age=self.settings.sweep_min_age)
                self.store.directory.record(found.known)
                held = over_limit(self.settings, found)
                if held is not None:
                    # A Keystone that answers 404 for everything would also make every
                    # live user look gone: waiting tombstones keep waiting too.
                    self._hold(held, found)
                    return 0
                opened = open_tombstones(self.store, found.orphans)
                woken = waitlist.recheck_all(self.store, self.trail, cloud)
        except Exception as exc:
            problem = credentials.explain(exc, None, keystone=False)
            if problem is None or self.gate is None:
                LOG.exception("sweep failed")
            else:
                self.gate.failed(problem)
            return 0
        new = sum(1 for _, created in opened if created) + woken
        for orphan, created in opened:
            if created:
                self.trail.append(
                    action=AuditAction.READ,
                    outcome=AuditOutcome.SUCCESS,
                    target=AuditTarget.for_identity(orphan.identity),
                    reason=f"sweep: {orphan.resources} resources of an owner Keystone "
                    f"does not know (e.g. {', '.join(orphan.examples)})",
                )
        if new:
            self.on_opened()
        LOG.info("sweep done", orphans=len(opened), opened=new - woken, waiting_woken=woken)
        return new

    def _hold(self, why: str, found: SweepResult) -> None:
        """Open nothing; alert (log, metric) and audit, for an operator to review and approve."""
        examples = ", ".join(str(o.identity) for o in found.orphans[:5])
        LOG.error(
            "ALERT: sweep held for operator approval; no tombstone opened",
            reason=why,
            examples=examples,
            review="reaper sweep",
            approve="reaper sweep --open --approve",
        )
        if self.metrics is not None:
            self.metrics.sweep_held()
        self.trail.append(
            action=AuditAction.READ,
            outcome=AuditOutcome.FAILURE,
            target=AuditTarget("reaper.sweep", "sweep"),
            reason=f"sweep held for operator approval: {why} (e.g. {examples})",
        )


class Bootstrap:
    """The controller's first part to touch the cloud: the directory learns who is alive.

    Run before the workers start, whether or not the periodic sweep is
    enabled: a deletion is acted on only for an identity seen alive (see
    ``reaper.cleanup.known``), so identities that existed before this
    controller started must be known before the first deletion is judged.
    Three listings (projects, users, domains), no resource listing. When
    Keystone cannot be listed now, the controller starts anyway: deletions
    of identities it does not know are refused as "never known", and a
    sweep that finds resources they own reopens them.
    """

    def __init__(self, store: Store, cloud: Callable[[], Cloud]) -> None:
        self.store = store
        self.cloud = cloud

    def start(self) -> None:
        try:
            learnt = identities(self.cloud())
            new = self.store.directory.record(learnt)
        except Exception as exc:
            LOG.warning("the identity directory could not be bootstrapped", error=str(exc))
            return
        LOG.info("identity directory bootstrapped", listed=len(learnt), new=new)

    def stop(self) -> None:
        pass


def _old_enough(created_at: Any, cutoff: dt.datetime) -> bool:
    if not created_at:
        return True  # no creation time: the 404 check still decides
    try:
        when = dt.datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when <= cutoff
