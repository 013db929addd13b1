"""The policies a running controller holds, swapped on SIGHUP only for a valid new set.

The workers read the current set through the holder (it is callable), so a
reload never changes the policies under a tombstone half-way through a
step's decision. Both outcomes of a reload are audited, by the holder
itself: a rejected set (the previous one is kept) and an accepted one, with
the digests before and after.
"""

from __future__ import annotations

import threading
from typing import Any

from oslo_config import cfg

from reaper import log
from reaper.audit.record import AuditAction, AuditOutcome, AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.policy import PolicyError, configured_policy_paths, load_policies

LOG = log.get(__name__)


class PolicyHolder:
    """The loaded policy set, replaced atomically on SIGHUP if the new one is valid."""

    def __init__(self, conf: cfg.ConfigOpts, trail: AuditTrail) -> None:
        self.conf = conf
        self.trail = trail
        self._policies = load_policies(configured_policy_paths(conf))
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            return self._policies

    def reload(self) -> bool:
        paths = configured_policy_paths(self.conf)
        target = AuditTarget("reaper.policy", ",".join(paths)[:200] or "default")
        try:
            fresh = load_policies(paths)
        except PolicyError as exc:
            self.trail.append(
                action=AuditAction.UPDATE,
                outcome=AuditOutcome.FAILURE,
                target=target,
                reason=AuditReason.error(f"policy reload rejected, previous set kept: {exc}"),
            )
            LOG.error("policy reload rejected; keeping the previous policies", error=str(exc))
            return False
        with self._lock:
            old, self._policies = self._policies.digest, fresh
        self.trail.append(
            action=AuditAction.UPDATE,
            outcome=AuditOutcome.SUCCESS,
            target=target,
            reason=f"policies reloaded: {old} -> {fresh.digest}",
        )
        LOG.info("policies reloaded", digest=fresh.digest)
        return True
