"""The listener's AMQP socket read a few kilobytes at a time, not a field at a time.

py-amqp reads a frame in three ``recv`` calls of exactly the bytes it needs
(the 7-byte header, the payload, the end octet), and a notification is three
frames (method, header, body): about nine system calls per message, each of
which gives up the GIL. The listener's polling thread is what bounds the
intake, and while a batch is being persisted another thread holds the GIL,
so each of those nine waits to get it back, up to a switch interval (5 ms)
each time: the polling thread then reads slower than a no-op listener's,
whose threads hardly ever hold the GIL.

py-amqp's ``TCPTransport._read`` already keeps what a ``recv`` returned
beyond what it asked for (``_read_buffer``) and serves the next reads from
it; only its ``recv`` asks for exactly the missing bytes. :func:`ensure`
makes the ``recv`` of reaper's listener connection ask for at least
:data:`READ_AHEAD` bytes, so one call brings several messages. Nothing else
changes: ``recv`` still returns whatever has arrived (it never waits for
the rest), frames are parsed by the same code from the same buffer, and a
timeout or a lost connection goes down the same paths. Other transports
(TLS, whose reads go through the SSL object) are left as they are.
"""

from __future__ import annotations

from typing import Any

from amqp.transport import TCPTransport

#: Bytes asked of each ``recv``: several notifications (~1 KiB each on the bus), small
#: enough that the copy py-amqp makes of the rest of its buffer after each read stays cheap.
READ_AHEAD = 8192


class _ReadAhead:
    """A socket's ``recv`` that asks for at least :data:`READ_AHEAD` bytes."""

    __slots__ = ("recv",)

    def __init__(self, recv: Any) -> None:
        self.recv = recv

    def __call__(self, wanted: int) -> bytes:
        return self.recv(wanted if wanted > READ_AHEAD else READ_AHEAD)  # type: ignore[no-any-return]


def ensure(server: Any) -> bool:
    """Make the current connection of an oslo.messaging server's listener read ahead.

    Called by the polling thread for each batch, so a connection made again
    after a failure reads ahead from its next batch on. True when it does.
    """
    transport = _transport(server)
    if transport is None:
        return False
    recv = getattr(transport, "_quick_recv", None)
    if isinstance(recv, _ReadAhead):
        return True
    sock = getattr(transport, "sock", None)
    if sock is None or recv != sock.recv:
        return False  # not the plain socket read this module knows
    transport._quick_recv = _ReadAhead(recv)
    return True


def _transport(server: Any) -> TCPTransport | None:
    """The py-amqp transport under the server's listener, without connecting anything.

    The polling listener's ``conn`` is oslo.messaging's pool context around its
    rabbit connection, which holds the kombu connection, whose established
    py-amqp connection (``_connection``; its ``connection`` property would
    connect) holds the transport.
    """
    adapter = getattr(server, "listener", None)
    node = getattr(getattr(adapter, "_poll_style_listener", None), "conn", None)
    for _ in range(3):
        transport = getattr(getattr(node, "_connection", None), "transport", None)
        if type(transport) is TCPTransport:
            return transport
        node = getattr(node, "connection", None)
    return None
