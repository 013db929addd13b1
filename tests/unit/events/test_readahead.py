"""The listener's socket read ahead: the same frames, from far fewer ``recv`` calls."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

import pytest
from amqp.transport import TCPTransport

from reaper.events import readahead


def frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


class Wire:
    """A socket's receiving end: ``recv`` returns what has arrived, up to ``size``; counted."""

    def __init__(self) -> None:
        self.arrived = b""
        self.calls = 0

    def sendall(self, data: bytes) -> None:
        """The broker's side: these bytes arrive."""
        self.arrived += data

    def recv(self, size: int) -> bytes:
        self.calls += 1
        if not self.arrived:
            raise TimeoutError("timed out")
        data, self.arrived = self.arrived[:size], self.arrived[size:]
        return data


def transport(sock: Wire) -> Any:
    """A py-amqp TCP transport on ``sock``, as ``_setup_transport`` leaves it."""
    made = TCPTransport.__new__(TCPTransport)
    made.sock = sock
    made._read_buffer = b""
    made._quick_recv = sock.recv
    made.raise_on_initial_eintr = True
    made.connected = True
    return made


def server(made: Any) -> Any:
    """An oslo.messaging server whose listener's connection runs on ``made``."""
    amqp_connection = SimpleNamespace(transport=made)
    kombu_connection = SimpleNamespace(_connection=amqp_connection)
    rabbit = SimpleNamespace(connection=kombu_connection)  # impl_rabbit.Connection
    polling = SimpleNamespace(conn=SimpleNamespace(connection=rabbit))  # its pool context
    return SimpleNamespace(listener=SimpleNamespace(_poll_style_listener=polling))


@pytest.fixture
def pair() -> tuple[Wire, Wire]:
    """The broker's end and ours: one wire."""
    wire = Wire()
    return wire, wire


def frames(count: int) -> list[tuple[int, int, bytes]]:
    """What a notification's deliveries look like: method, header and body frames."""
    sent = []
    for n in range(count):
        sent += [(1, 1, b"m" * 40), (2, 1, b"h" * 90), (3, 1, b"%d" % n + b"b" * 900)]
    return sent


@pytest.mark.parametrize("ahead", [False, True])
def test_the_frames_read_are_the_frames_sent(pair: Any, ahead: bool) -> None:
    theirs, ours = pair
    made = transport(ours)
    if ahead:
        assert readahead.ensure(server(made))
    sent = frames(20)
    theirs.sendall(b"".join(frame(*f) for f in sent))

    assert [made.read_frame() for _ in sent] == sent
    assert made._read_buffer == b""
    if ahead:
        assert ours.calls <= 6, ours.calls  # 20 KiB in 8 KiB reads, as they arrive
    else:
        assert ours.calls == 3 * len(sent)


def test_a_frame_larger_than_the_read_ahead_is_read_whole(pair: Any) -> None:
    theirs, ours = pair
    made = transport(ours)
    assert readahead.ensure(server(made))
    big = (3, 1, b"x" * (3 * readahead.READ_AHEAD))
    theirs.sendall(frame(*big) + frame(1, 1, b"next"))
    assert made.read_frame() == big
    assert made.read_frame() == (1, 1, b"next")


def test_a_read_that_times_out_mid_frame_loses_nothing(pair: Any) -> None:
    theirs, ours = pair
    made = transport(ours)
    assert readahead.ensure(server(made))
    whole = frame(3, 1, b"y" * 500)
    theirs.sendall(frame(1, 1, b"first") + whole[:100])
    assert made.read_frame() == (1, 1, b"first")
    with pytest.raises(TimeoutError):
        made.read_frame()
    theirs.sendall(whole[100:])
    assert made.read_frame() == (3, 1, b"y" * 500)


def test_ensure_is_idempotent_and_leaves_what_it_does_not_know(pair: Any) -> None:
    _, ours = pair
    made = transport(ours)
    assert readahead.ensure(server(made)) and readahead.ensure(server(made))
    assert isinstance(made._quick_recv, readahead._ReadAhead)
    assert made._quick_recv.recv == ours.recv

    other = transport(ours)
    other._quick_recv = lambda n: b""  # not the socket's own recv (a TLS read, say)
    assert not readahead.ensure(server(other))
    assert not readahead.ensure(SimpleNamespace(listener=None))  # not started, or no AMQP
