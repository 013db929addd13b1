"""The periodic checkpoint a service runs beside its work.

Checkpoints at the end of each tombstone only appear when there is work; a
trail cut off after its last tombstone would look exactly like a quiet
cloud. A checkpoint every ``[audit] checkpoint_interval`` seconds, written
whether or not anything happened, makes the difference visible: verify warns
when the newest checkpoint is older than two intervals.
"""

from __future__ import annotations

import threading

from oslo_config import cfg

from reaper import log
from reaper.audit.checkpoint import Checkpoint, CheckpointReason
from reaper.audit.trail import AuditTrail
from reaper.store import StoreError

LOG = log.get(__name__)


class Checkpointer:
    """Writes a checkpoint on start and then every ``interval`` seconds, in a thread."""

    def __init__(self, trail: AuditTrail, interval: float) -> None:
        if interval <= 0:
            raise ValueError("checkpoint interval must be positive")
        self.trail = trail
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_conf(cls, trail: AuditTrail, conf: cfg.ConfigOpts) -> Checkpointer:
        return cls(trail, float(conf.audit.checkpoint_interval))

    def run_once(self, reason: str = CheckpointReason.INTERVAL) -> Checkpoint | None:
        """One checkpoint; a store failure is logged, not raised (the next tick retries)."""
        try:
            cp = self.trail.checkpoint(reason)
        except StoreError as exc:
            LOG.warning("audit checkpoint failed, will retry", error=str(exc))
            return None
        LOG.debug("audit checkpoint", number=cp.number, seq=cp.seq, signed=cp.signed)
        return cp

    def run(self) -> None:
        """Loop until :meth:`stop`; what the thread runs (or a caller's own loop)."""
        self.run_once(CheckpointReason.START)
        while not self._stop.wait(self.interval):
            self.run_once()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("checkpointer already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="audit-checkpointer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the loop, after one last checkpoint so a clean shutdown is visible."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            self.run_once(CheckpointReason.STOP)
