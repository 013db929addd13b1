"""Audit records of messages the message driver could not decode.

Two ways to know of one. With dead-lettering (``deadletter.py``, the
default) the message itself arrives in reaper's dead-letter queue and
:class:`DeadLetterRecorder` audits its fingerprint, size, content type,
headers and times. A pool queue declared by a reaper that did not
dead-letter still drops such messages; there :class:`UndecodableAuditor`
turns the driver's log line into an audit record, which says that a message
was dropped and why, but no more: the driver logs nothing about the message.

Either way the record is a failed ``receive`` with code ``undecodable``,
counted as ``reaper_notifications_total{outcome="rejected_undecodable"}``,
and nothing in the message is ever acted on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from reaper import log
from reaper.audit.record import AuditAction, AuditOutcome, AuditReason, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.events.deadletter import DeadLetter
from reaper.model import utcnow

LOG = log.get(__name__)


class DeadLetterRecorder:
    """Audits and counts one dead letter; raises (so it stays queued) if the store cannot."""

    def __init__(self, trail: AuditTrail, metrics: Any = None) -> None:
        self.trail = trail
        self.metrics = metrics

    def __call__(self, letter: DeadLetter) -> None:
        self.trail.append(
            action=AuditAction.RECEIVE,
            outcome=AuditOutcome.FAILURE,
            target=AuditTarget.for_notification(letter.ref),
            reason=AuditReason.error(
                f"rejected (undecodable): the message driver could not decode a message of "
                f"{letter.size} bytes ({letter.content_type or 'no content type'}); "
                "it was dead-lettered, and is recorded here and dropped"
            ),
            extra=letter.details(utcnow()),
        )
        if self.metrics is not None:
            self.metrics.notification("?", "rejected_undecodable")


class UndecodableAuditor(logging.Handler):
    """Audits the driver's "Failed to process message" lines, when nothing dead-letters.

    ``active`` says whether to: with dead-lettering on, the dead letter is
    the record, and the log line must not count the message twice.
    """

    LOGGERS = ("oslo.messaging._drivers.impl_rabbit", "oslo_messaging._drivers.impl_rabbit")
    MARKER = "Failed to process message"

    def __init__(
        self, trail: AuditTrail, metrics: Any = None, active: Callable[[], bool] = lambda: True
    ) -> None:
        super().__init__(level=logging.ERROR)
        self.trail = trail
        self.metrics = metrics
        self.active = active
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if self.MARKER not in record.getMessage() or not self.active():
            return
        error = ""
        if record.exc_info and record.exc_info[1] is not None:
            error = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        try:
            with self._lock:
                self.trail.append(
                    action=AuditAction.RECEIVE,
                    outcome=AuditOutcome.FAILURE,
                    target=AuditTarget.for_notification(None),
                    reason=AuditReason.error(
                        f"rejected (undecodable): the message driver could not decode a "
                        f"message and dropped it: {error}"[:400]
                    ),
                    extra={"code": "undecodable", "at": time.time()},
                )
            if self.metrics is not None:
                self.metrics.notification("?", "rejected_undecodable")
        except Exception:  # a failing audit must not break the driver's logging
            LOG.error("could not audit an undecodable message")

    def install(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)

    def uninstall(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)
