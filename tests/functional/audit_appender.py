"""A separate process that appends to the audit chain: ``python audit_appender.py URL NAME N GO``.

Used by the concurrency tests: several of these, started together (each
creates ``GO.NAME.ready`` once connected, then waits for the file GO), append
N records each, in single appends and small batches, with a checkpoint every
tenth append.
"""

from __future__ import annotations

import os
import sys
import time

from reaper.audit.record import Actor, AuditTarget
from reaper.audit.trail import AuditTrail
from reaper.store import Store


def main(url: str, name: str, count: int, go: str) -> int:
    store = Store.open(url)
    trail = AuditTrail(store, initiator=Actor.service_user(), observer=Actor.instance(name))
    open(f"{go}.{name}.ready", "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            return 2
        time.sleep(0.005)
    i = appends = 0
    while i < count:
        appends += 1
        if i % 7 == 3:
            with trail.batch() as batch:
                for _ in range(min(5, count - i)):
                    batch.append(
                        action="delete", outcome="success", target=AuditTarget("x.y", f"{name}-{i}")
                    )
                    i += 1
        else:
            trail.append(
                action="delete", outcome="success", target=AuditTarget("x.y", f"{name}-{i}")
            )
            i += 1
        if appends % 10 == 0:
            trail.checkpoint()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
