"""SIGTERM's deadline: the controller's process is gone within ``shutdown_grace`` of the signal.

A stop waits for the requests in flight; one that hangs (a service that
accepted the connection and never answers) must not hold the process past
the service manager's stop timeout (systemd's ``TimeoutStopSec``), which
would kill it and call the stop a failure. Whatever was not finished has no
outcome, and its tombstone's lease is freed by the next controller on this
host (its predecessor's process is gone) or expires: the work resumes,
nothing is lost.

Invariants:

* the watchdog is armed by the signal handler itself, so its time counts from
  the signal, not from when the main loop next looks (it used to start up to
  half a second later, after the loop's wait);
* it is never disarmed: after a clean stop the interpreter still has to exit
  (join its threads, run ``atexit``), and that is part of the grace too;
* it fires a tenth of the grace early (at most one second), the room the
  exit itself needs on a loaded host; a stop measured from outside then
  stays inside ``shutdown_grace``;
* arming twice (a second SIGTERM, then the ``finally`` of the main loop)
  keeps the first deadline.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import structlog

LOG = structlog.get_logger(__name__)

#: The most the watchdog keeps back from the grace for the process's own exit.
EXIT_ROOM = 1.0


def deadline(grace: float) -> float:
    """Seconds after the signal at which the watchdog ends the process (``0 <= d <= grace``)."""
    return max(0.0, grace - min(EXIT_ROOM, grace / 10))


def exit_now(grace: float) -> None:
    """Log why, flush the logs and end the process with status 0 (a stop is not a failure)."""
    LOG.error(
        "controller did not stop within shutdown_grace; exiting now, "
        "unfinished steps resume on the next claim",
        grace=grace,
    )
    logging.shutdown()
    os._exit(0)


class Watchdog:
    """Ends the process ``deadline(grace)`` seconds after it is first armed."""

    def __init__(
        self,
        grace: float,
        *,
        on_expiry: Callable[[float], None] = exit_now,
        timer: Callable[..., threading.Timer] = threading.Timer,
    ) -> None:
        self.grace = grace
        self._on_expiry = on_expiry
        self._timer_factory = timer
        self._timer: threading.Timer | None = None

    @property
    def armed(self) -> bool:
        return self._timer is not None

    def arm(self) -> None:
        """Start the countdown, once.

        Called from the signal handler and from the main loop's ``finally``, both on
        the main thread; no lock, since a handler that interrupted a holder of it
        would wait forever. Should the handler run between the check and the
        assignment, a second timer starts later than the first, which fires first.
        """
        if self._timer is not None:
            return
        timer = self._timer_factory(deadline(self.grace), self._on_expiry, args=(self.grace,))
        timer.daemon = True
        self._timer = timer
        timer.start()
