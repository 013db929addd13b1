"""systemd's readiness protocol (``Type=notify``), in the few lines it takes.

systemd passes a unix datagram socket in ``$NOTIFY_SOCKET`` (a path, or an
abstract name starting with ``@``); the service sends ``READY=1`` once it
can do its job, ``STOPPING=1`` when it begins to stop, ``STATUS=...`` to
show in ``systemctl status``. Without the variable (not under systemd)
every call is a no-op, so callers need not ask.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (``"READY=1\\nSTATUS=..."``); whether a socket was there to take it."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True
