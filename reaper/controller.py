"""``reaper-controller`` (also ``reaper serve``): the long-running service.

It runs, in one process:

* the notification listener (``events/listener.py``), which persists a
  tombstone per deleted or updated identity before the message is
  acknowledged, and wakes the workers;
* ``[DEFAULT] workers`` worker threads that claim due tombstones and run
  them through the same pipeline as ``reaper plan``/``apply``
  (``cleanup/worker.py``); grace periods and retries are due times on the
  tombstones, so claiming *is* the scheduler;
* the periodic sweep (``cleanup/sweep.py``), one controller at a time, its full
  scans in a process of their own (``cleanup/scanproc.py``);
* periodic audit checkpoints, also when nothing happens;
* the HTTP endpoint (``api.py``): ``/healthz`` and ``/metrics``.

Each of these is a part with ``start()`` and ``stop()`` (``parts.py``); the
controller is the list of them, started in order (the undecodable-message
auditor, the API, the checkpointer, the connection warm-up, the sweep, the
workers, the listener, the dead-letter reader) and stopped in reverse, so
the listener is among the last in and the first out.

SIGTERM (or SIGINT) stops the listener, lets the requests in flight
finish, cuts short every wait between retries (those steps are left to the
next claim), gives every lease back and exits 0, within ``[DEFAULT]
shutdown_grace`` seconds whatever hangs; the next start resumes unfinished
tombstones. SIGHUP reloads the policies (``policyholder.py``): an invalid
new set is rejected and the old one kept, and both facts are audited. On SQLite only one
controller may run (a second one refuses to start); several controllers
share one PostgreSQL database and one listener pool.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from reaper import config, configcheck, log, parts, sdnotify, shutdown
from reaper.api import ApiServer, Health
from reaper.audit.checkpointer import Checkpointer
from reaper.audit.publish import SinkError
from reaper.audit.trail import AuditTrail
from reaper.cleanup import lease, waitlist
from reaper.cleanup.house import House, house
from reaper.cleanup.lifecycle import Reopener
from reaper.cleanup.scanproc import ChildScan
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.steplog import StepLog
from reaper.cleanup.sweep import Bootstrap, Sweeper
from reaper.cleanup.worker import Worker
from reaper.events import barbican, keystone
from reaper.events.listener import IdentityEndpoint, Listener, broker_url
from reaper.events.outage import Backoff
from reaper.events.undecodable import DeadLetterRecorder, UndecodableAuditor
from reaper.ids import InvalidIdPattern
from reaper.keystone_access import CloudAccess
from reaper.metrics import Metrics, StepMetrics
from reaper.model import utcnow
from reaper.policy import PolicyError, configured_policy_paths
from reaper.policy.loader import policy_files
from reaper.policyholder import PolicyHolder
from reaper.store import Store, StoreError
from reaper.store.engine import sqlite_path

LOG = log.get(__name__)


class AlreadyRunning(RuntimeError):
    """Another controller holds the embedded store."""


class Controller:
    def __init__(self, conf: cfg.ConfigOpts, *, os_cloud: str | None = None) -> None:
        self.conf = conf
        self.settings = Settings.from_conf(conf)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.metrics = Metrics()
        self._lockfile = _single_controller_lock(conf)
        self.store = Store.from_conf(conf, retry_for=30.0)
        self.trail = AuditTrail.from_conf(self.store, conf)
        self.policies = PolicyHolder(conf, self.trail)
        self.cloud = CloudAccess(conf, os_cloud=os_cloud, on_failure=self.metrics.keystone_failure)
        endpoint = IdentityEndpoint(
            self.store,
            self.trail,
            reopener=Reopener(self.store),
            rules=keystone.Rules.from_conf(conf),
            on_recorded=self.wake.set,
            metrics=self.metrics,
            backoff=Backoff.from_conf(conf),
        )
        self.listener = Listener(conf, endpoint)
        # The driver's log is the only trace of what it drops when nothing dead-letters.
        self.undecodable = UndecodableAuditor(
            self.trail, self.metrics, active=lambda: not self.listener.dead_lettering
        )
        self.dead_letters = parts.DeadLetters(
            conf, self.listener, DeadLetterRecorder(self.trail, self.metrics)
        )
        self.worker = Worker(
            self.settings,
            store=self.store,
            trail=self.trail,
            cloud=self.seams,
            policies=self.policies,
            observers=lambda: [
                StepMetrics(self.metrics),
                StepLog(attempts=self.settings.limits.retry_attempts),
            ],
            metrics=self.metrics,
            stop=self.stopping,
            gate=self.cloud.gate,
        )
        self.sweeper = Sweeper(
            self.settings,
            store=self.store,
            trail=self.trail,
            cloud=self.seams,
            on_opened=self.wake.set,
            gate=self.cloud.gate,
            metrics=self.metrics,
            scan=ChildScan.of(conf, os_cloud=os_cloud, stopping=self.stopping),
        )
        self.checkpointer = Checkpointer.from_conf(self.trail, conf)
        self.metrics.observe_store(self.store.tombstones.counts, self._queue_lag)
        self.metrics.observe_kept(waitlist.Census(self.store))
        self.metrics.observe_listener(
            lambda: self.listener.running, lambda: self.listener.dead_lettering
        )
        self.health = Health(
            {
                "listener": self._check_listener,
                "store": lambda: self.store.tombstones.counts(),
                "keystone": self.cloud.check,
            }
        )
        self.api = ApiServer(conf.api.host, conf.api.port, self.health, self.metrics)
        loop = parts.work_loop(
            self.worker, stopping=self.stopping, wake=self.wake, poll_interval=conf.poll_interval
        )
        sweep = parts.sweep_loop(self.sweeper, stopping=self.stopping, interval=conf.sweep.interval)
        # Started in this order, stopped in the reverse: the listener last in and first
        # out, so on shutdown no new work arrives while the workers finish theirs.
        self.parts = parts.Parts(
            [
                # First in, last out: every request counts against the shared caps.
                ("budget", parts.SharedBudget.of(conf, self.store, self.settings.owner)),
                ("listings", parts.SharedListings(self.store, self.settings.owner)),
                ("undecodable-auditor", parts.Installed(self.undecodable)),
                ("api", self.api),
                ("checkpointer", self.checkpointer),
                ("warm-up", parts.Threads("reaper-warmup", self._warm_up)),
                ("barbican-check", parts.Threads("reaper-barbican", self._check_barbican)),
                ("directory", Bootstrap(self.store, self.seams)),
                *([("sweep", parts.Threads("reaper-sweep", sweep))] if conf.sweep.enabled else []),
                ("workers", parts.Threads("reaper-worker", loop, count=conf.workers)),
                ("listener", self.listener),
                ("dead-letters", self.dead_letters),
            ]
        )

    # -- shared resources ------------------------------------------------------------

    def connection(self) -> Any:
        """One admin connection for the process (openstacksdk sessions are thread-safe)."""
        return self.cloud.connection()

    def seams(self) -> Cloud:
        """The road's view of that connection (Keystone, inventory, runner)."""
        return Cloud.of(self.connection())

    def _warm_up(self) -> None:
        self.cloud.warm_up()
        self._warn_protection()

    def _warn_protection(self) -> None:
        """Warn while protected_project_ids is empty, naming the always-protected projects.

        Said once the connection is warm, so the warning carries their ids as
        ``reaper config check`` does; without Keystone's answer, without them.
        """
        if self.conf.protected_project_ids:
            return
        known: House | None = None
        try:
            known = house(self.connection(), self.settings.admin_project)
        except Exception as exc:  # the workers will not act until Keystone answers
            LOG.warning("the always-protected projects' ids are unknown", error=str(exc))
        for warning in configcheck.protection_warnings(self.conf, known):
            LOG.warning(str(warning))

    def _check_barbican(self) -> None:
        """Whether Barbican's keystone listener runs (reaper cannot list secrets)."""
        try:
            barbican.check(
                self.connection,
                broker_url(self.conf),
                self.conf.listener.barbican_listener_queue,
                lambda state: self.metrics.barbican_listener_state(state.value),
            )
        except Exception:  # a report, never a reason not to start
            LOG.exception("Barbican's keystone listener could not be checked")

    def _check_listener(self) -> None:
        if not self.listener.running:
            raise RuntimeError("listener is not running")

    def _queue_lag(self) -> float:
        oldest = self.store.tombstones.oldest_due()
        return 0.0 if oldest is None else max(0.0, (utcnow() - _aware(oldest)).total_seconds())

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        for tid, owner in self.store.tombstones.leases():
            # Ours from a previous life (killed mid-job): free them to resume now.
            if lease.left_by_dead_process(owner, self.conf.host):
                self.store.tombstones.release(tid, owner)
                LOG.info("resuming tombstone after restart", tombstone=tid, owner=owner)
        self.parts.start()
        # The one line that says what this controller is: where it listens, what it
        # writes to, which cloud it acts on and under which policies.
        LOG.info(
            "controller started",
            host=self.conf.host,
            pool=self.conf.listener.pool,
            store=self.store.db.safe_url,
            cloud=self.cloud.describe(),
            policy_files=policy_files(configured_policy_paths(self.conf))[0],
            policies=self.policies().digest,
            dry_run=self.conf.dry_run,
            workers=self.conf.workers,
            api_port=self.api.port,
        )
        # The queue is declared (the listener waited for it) and the store migrated.
        sdnotify.notify(f"READY=1\nSTATUS=listening on pool {self.conf.listener.pool}")

    def stop(self) -> None:
        LOG.info("controller stopping: finishing the steps in flight")
        sdnotify.notify("STOPPING=1")
        self.stopping.set()
        self.wake.set()
        self.parts.stop()
        self.store.close()
        if self._lockfile is not None:
            self._lockfile.close()
        LOG.info("controller stopped")

    # -- loops ---------------------------------------------------------------------

    def sweep_once(self) -> int:
        """One sweep, if no other controller is sweeping; returns tombstones opened."""
        return self.sweeper.sweep_once()


def _single_controller_lock(conf: cfg.ConfigOpts) -> Any:
    """On SQLite, an exclusive lock beside the database file: one controller only."""
    url = config.store_url(conf)
    if not url.startswith("sqlite"):
        return None
    path = sqlite_path(url) or os.path.join(conf.state_path, "reaper.sqlite")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    handle = open(path + ".controller.lock", "w")  # noqa: SIM115 - held for the process life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise AlreadyRunning(
            f"another reaper-controller already uses the SQLite store {path}; SQLite "
            "supports one controller: stop it, or use PostgreSQL ([store] connection) "
            "to run several"
        ) from exc
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def preflight(conf: cfg.ConfigOpts) -> str | None:
    """Why the controller must not start (one line), checked before it opens anything.

    A typo'd option (``protected_projects_ids``) or a value of the wrong type
    would otherwise surface half-way through a cleanup, and an unreachable
    broker as a listener that never binds.
    """
    problems = configcheck.file_problems(conf)
    # The empty protected_project_ids warning waits for Keystone: it names the ids too.
    for warning in problems:
        if warning.severity == configcheck.WARNING:
            LOG.warning(str(warning))
    # Credentials are the exception: with broken ones the controller still starts, keeps
    # every notification, says why on /healthz and waits (doc/install.md); fixing them
    # must not cost the deletions announced meanwhile.
    section = f"[{config.SERVICE_CREDENTIALS_GROUP}]"
    for problem in configcheck.errors(problems):
        if section in problem.where:
            LOG.error(f"{problem}; tombstones wait until the credentials work")
    fatal = [p for p in configcheck.errors(problems) if section not in p.where]
    errors = fatal or configcheck.broker_problems(conf)
    if errors:
        return "; ".join(str(p) for p in errors) + " ('reaper config check' lists every problem)"
    return None


def run(conf: cfg.ConfigOpts, *, os_cloud: str | None = None) -> int:
    problem = preflight(conf)
    if problem is not None:
        LOG.error("cannot start: " + problem)
        return 1
    try:
        controller = Controller(conf, os_cloud=os_cloud)
    except AlreadyRunning as exc:
        LOG.error(str(exc))
        return 1
    except (StoreError, PolicyError, InvalidIdPattern, SinkError) as exc:
        LOG.error("cannot start", error=str(exc))
        return 1
    reload_requested = threading.Event()
    attention = threading.Event()  # a signal came: the main loop looks at once
    watchdog = shutdown.Watchdog(conf.shutdown_grace)

    def on_term(signum: int, frame: Any) -> None:
        watchdog.arm()  # the grace counts from the signal
        controller.stopping.set()
        controller.wake.set()
        attention.set()

    def on_hup(signum: int, frame: Any) -> None:
        reload_requested.set()
        attention.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    controller.start()
    try:
        while not controller.stopping.is_set():
            attention.wait(0.5)
            attention.clear()
            if reload_requested.is_set():
                reload_requested.clear()
                controller.policies.reload()
    finally:
        # Never disarmed: the interpreter's own exit after a clean stop is inside the
        # grace too (run() is the process: its caller exits with what it returns).
        watchdog.arm()
        controller.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        conf = config.make_conf(argv, prog="reaper-controller")
    except cfg.Error as exc:  # a missing or unparsable file: one line, not a traceback
        log.setup()
        LOG.error(f"cannot start: {exc}")
        return 1
    log.setup(debug=conf.debug)
    return run(conf)


if __name__ == "__main__":
    sys.exit(main())
