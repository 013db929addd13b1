"""The interpreter's thread switch interval while a listener runs.

oslo.messaging's polling thread reads each AMQP frame with its own small
``recv`` calls (py-amqp reads exactly the bytes a frame needs), a handful per
notification, and gives up the GIL for each. While a listener thread persists
a batch (parsing, building receipts: Python code), the polling thread that
wants the GIL back waits for the interpreter's switch interval, 5 ms by
default, at every one of those reads: polling all but stops while a batch is
persisted, and a batch that took 5 ms of CPU held up the next one's arrival
for far longer. With a shorter interval the two interleave. Measured with
``python -m benchmarks intake`` (2,000 notifications, 2 rounds each, a
loaded host): reaper/raw 0.30 and 0.47 at 5 ms, 0.51 and 0.58 at 1 ms, 0.60
and 0.64 at 0.2 ms.

The setting is process-wide; a CPU-bound thread elsewhere in the controller
(the sweep, a verify) only hands the GIL over more often, which costs it
little. It is only ever shortened, never lengthened.
"""

from __future__ import annotations

import sys

#: Seconds; what :func:`shorten_switch_interval` sets when the interval is longer.
SWITCH_INTERVAL = 0.0005


def shorten_switch_interval(interval: float = SWITCH_INTERVAL) -> float:
    """Make the switch interval at most ``interval``; returns the one in force."""
    if sys.getswitchinterval() > interval:
        sys.setswitchinterval(interval)
    return sys.getswitchinterval()
