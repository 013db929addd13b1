"""Free TCP ports for a run's APIs, never the same as another run's.

A port that is free now may be taken by another run starting at the same moment, so the
choice happens under a lock file in the root directory, skips every port that another
run's state.json claims, and is saved (by the caller's ``claim``) before the lock is
released. Ports come from a range below Linux's ephemeral range, so outgoing connections
of the services themselves do not take them between the choice and the bind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import random
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

PORT_RANGE = range(20000, 30000)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _claimed_ports(root: Path) -> set[int]:
    claimed: set[int] = set()
    for state_file in root.glob("*/state.json"):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        if state.get("status") != "down":
            claimed.update(state.get("ports", {}).values())
    return claimed


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def allocate(
    names: list[str], root: Path, claim: Callable[[dict[str, int]], None]
) -> dict[str, int]:
    """Pick one free port per name and hand them to ``claim`` while still holding the lock."""
    with locked(root / ".ports.lock"):
        taken = _claimed_ports(root)
        candidates = [p for p in PORT_RANGE if p not in taken]
        random.shuffle(candidates)
        ports: dict[str, int] = {}
        for port in candidates:
            if len(ports) == len(names):
                break
            if _bindable(port):
                ports[names[len(ports)]] = port
        if len(ports) != len(names):
            raise RuntimeError(f"no {len(names)} free ports in {PORT_RANGE}")
        claim(ports)
        return ports
