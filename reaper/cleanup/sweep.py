"""The periodic sweep: owners of resources that no longer exist in Keystone.

Notifications get lost (a broker restarted with a non-durable queue, a
listener that was down longer than the queue's TTL, a Keystone without
``driver = messagingv2``). The sweep catches those deletions, by difference:
it lists Keystone's projects, domains and users (three requests) and
compares them with the directory of identities reaper saw alive
(:mod:`reaper.cleanup.difference`); each project or user that vanished, and
has no cleanup yet, is a candidate. At start-up and every ``[sweep]
full_scan_interval`` (daily) it also lists each resource type cloud-wide
(:mod:`reaper.cleanup.census`: raw JSON pages of ``limit`` items folded into
owner counters), and every owner it cannot find in Keystone is a candidate
too: those find owners nobody saw alive. Each candidate is verified (Keystone's
own 404, about one request each: reaper's own account is witnessed once per
batch of them, :mod:`reaper.cleanup.batchverify`) before a tombstone with
trigger ``sweep`` is opened for it, and the tombstone then goes down the
same road as a notified one, whose discovery finds what it owns. Resources
younger than ``[sweep] min_age`` are ignored by the full scan, so a project
being created is never mistaken for an orphan.

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

Only one controller sweeps at a time: on PostgreSQL and MySQL under a
leased row renewed while it runs and checked before each write
(:mod:`reaper.cleanup.sweeplock`); a sweep whose lease is lost stops. On
SQLite there is only one controller. The controller's :class:`Sweeper`
records what it opened in the audit trail itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from reaper import credentials, log
from reaper.audit.record import AuditAction, AuditOutcome, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.cleanup import census, lifecycle, waitlist
from reaper.cleanup.orphans import CHANGES_MARGIN, Orphan, Scan, SweepResult, find_orphans
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.sweeplock import LOCK_NAME as LOCK_NAME
from reaper.cleanup.sweeplock import LockLost, exclusive
from reaper.cleanup.sweeplock import SweepLock as SweepLock
from reaper.keystone_access import KeystoneGate
from reaper.model import IdentityKind, Trigger, TriggerSource, trigger_name, utcnow
from reaper.store import Known, Store

LOG = log.get(__name__)


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
    return census.keystone_identities(cloud.conn)


def open_tombstones(
    store: Store,
    orphans: list[Orphan],
    *,
    ensure: Callable[[], None] = lambda: None,
    opened: list[tuple[Orphan, bool]] | None = None,
) -> list[tuple[Orphan, bool]]:
    """A tombstone (trigger ``sweep``) per verified orphan; True where it is new or reopened.

    ``ensure`` runs before each (the controller's sweep checks its lock
    there, :class:`LockLost` ends the loop); what was opened is appended to
    ``opened`` as it goes, so a caller whose loop was ended still knows it.
    """
    opened = [] if opened is None else opened
    for orphan in orphans:
        if not orphan.verified_gone:
            continue
        ensure()
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


class Sweeper:
    """The controller's sweep: one at a time across controllers, audited, waking the workers.

    Each sweep compares Keystone's lists with the directory (the sweep by
    difference, a handful of requests); the first sweep after start-up and
    then one every ``[sweep] full_scan_interval`` also list the cloud's
    resources (the full scan), which finds owners nobody saw alive. The
    schedule is this process's: a controller that restarts scans in full
    again, which errs on the side of looking.
    """

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
        scan: Scan | None = None,
    ) -> None:
        self.gate = gate
        #: The full scan (None: read in this process, through the sweep's cloud).
        self.scan = scan
        self.metrics = metrics
        self.settings = settings
        self.store = store
        self.trail = trail
        self.cloud = cloud
        self.on_opened = on_opened
        #: ``time.monotonic()`` of the last full scan read to its end; None: none yet.
        self.last_full: float | None = None
        #: When the last scan read to its end (full or changed) started; None: none yet.
        self.scanned_at: dt.datetime | None = None
        self.clock: Callable[[], float] = time.monotonic

    def full_scan_due(self) -> bool:
        """Whether this sweep lists the cloud's resources too (start-up, then on schedule)."""
        if self.last_full is None:
            return True
        return (
            self.clock() - self.last_full >= self.settings.sweep_full_scan_interval.total_seconds()
        )

    def survey(self, cloud: Cloud) -> SweepResult:
        """This sweep's orphans: by difference, with a full scan when one is due.

        Between full scans, a changed scan lists what changed since the last
        scan read to its end began, less ``sweep_min_age`` (what that scan
        passed over as too young is listed again, now old enough) and less
        :data:`CHANGES_MARGIN`. A scan that
        could not read a listing to its end is not counted as done: the next
        sweep scans in full again, or from the same time again.
        """
        full = self.full_scan_due()
        since = None
        if not full and self.scanned_at is not None:
            since = self.scanned_at - self.settings.sweep_min_age - CHANGES_MARGIN
        started, started_at = self.clock(), utcnow()
        found = find_orphans(
            cloud,
            min_age=self.settings.sweep_min_age,
            remembered=self.store.directory.unsettled(),
            full=full,
            since=since,
            scan=self.scan,
        )
        if (full or since is not None) and not found.incomplete:
            self.scanned_at = started_at
            if full:
                self.last_full = started
        LOG.info(
            "sweep surveyed",
            full=full,
            changed_since=since.isoformat() if since else None,
            identities=len(found.known),
            candidates=len(found.orphans),
            incomplete=",".join(found.incomplete) or None,
        )
        return found

    def sweep_once(self) -> int:
        """One sweep, if no other controller is sweeping; returns tombstones opened.

        Skipped while Keystone cannot be used (``gate``); a failure that says
        the credentials or Keystone are at fault closes the gate.
        """
        if self.gate is not None and not self.gate.admit():
            LOG.warning("sweep skipped: Keystone cannot be used", error=str(self.gate.problem))
            return 0
        opened: list[tuple[Orphan, bool]] = []
        woken = 0
        try:
            with exclusive(self.store) as lock:
                if not lock:
                    return 0
                cloud = self.cloud()
                found = self.survey(cloud)
                lock.ensure()  # the survey is long: another controller may sweep by now
                self.store.directory.record(found.known)
                held = over_limit(self.settings, found)
                if held is not None:
                    # A Keystone that answers 404 for everything would also make every
                    # live user look gone: waiting tombstones keep waiting too.
                    self._hold(held, found)
                    return 0
                open_tombstones(self.store, found.orphans, ensure=lock.ensure, opened=opened)
                lock.ensure()
                woken = waitlist.recheck_all(self.store, self.trail, cloud)
        except LockLost as exc:
            LOG.error("sweep stopped: its lock was lost", error=str(exc), opened=len(opened))
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
                    reason=orphan.why,
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
            review=f"reaper sweep{' --full' if found.full else ''}",
            approve=f"reaper sweep{' --full' if found.full else ''} --open --approve",
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
