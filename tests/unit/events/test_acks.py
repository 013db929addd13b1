"""Batches acknowledged in one frame, never before their callback returned, never twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reaper.events.acks import Acks, BatchServer


class Handler:
    """oslo.messaging's operations queue: what the polling thread runs between reads."""

    def __init__(self) -> None:
        self.tasks: list[Callable[[], None]] = []

    def do(self, task: Callable[[], None]) -> None:
        self.tasks.append(task)

    def process(self) -> None:
        while self.tasks:
            self.tasks.pop(0)()


class Channel:
    """A channel's frames, as the broker would see them."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, int]] = []
        self.closed = False


class Raw:
    """The kombu message."""

    def __init__(self, channel: Channel, tag: int) -> None:
        self.channel = channel
        self.delivery_tag = tag

    def ack(self, multiple: bool = False) -> None:
        if self.channel.closed:
            raise OSError("connection closed")
        self.channel.frames.append(("ack*" if multiple else "ack", self.delivery_tag))

    def requeue(self) -> None:
        self.channel.frames.append(("reject", self.delivery_tag))


class Listener:
    def __init__(self) -> None:
        self.msg_id_cache: set[str] = set()


class Incoming:
    """The AMQP driver's incoming notification (``NotificationAMQPIncomingMessage``)."""

    def __init__(self, raw: Raw, handler: Handler, listener: Listener) -> None:
        self.message = type("RabbitMessage", (dict,), {})()
        self.message._raw_message = raw
        self._message_operations_handler = handler
        self.listener = listener
        self.unique_id = f"u{raw.delivery_tag}"

    def acknowledge(self) -> None:
        raise AssertionError("acknowledged one by one")

    def requeue(self) -> None:
        self._message_operations_handler.do(self.message._raw_message.requeue)


class Bus:
    def __init__(self) -> None:
        self.channel = Channel()
        self.handler = Handler()
        self.listener = Listener()
        self.tag = 0

    def deliver(self, count: int) -> list[Incoming]:
        batch = []
        for _ in range(count):
            self.tag += 1
            batch.append(Incoming(Raw(self.channel, self.tag), self.handler, self.listener))
        return batch


def test_a_batch_is_acknowledged_in_one_frame_after_its_callback_returned() -> None:
    bus, acks = Bus(), Acks()
    batch = bus.deliver(5)
    acks.handed_over(batch)
    bus.handler.process()
    assert bus.channel.frames == []

    acks.settle(batch, [])
    assert bus.channel.frames == []  # the polling thread sends it
    bus.handler.process()

    assert bus.channel.frames == [("ack*", 5)]
    assert bus.listener.msg_id_cache == {f"u{n}" for n in range(1, 6)}
    assert (acks.frames, acks.acknowledged, acks.in_flight) == (1, 5, 0)


def test_a_batch_that_returns_before_an_earlier_one_waits_for_it() -> None:
    bus, acks = Bus(), Acks()
    first, second = bus.deliver(3), bus.deliver(3)
    acks.handed_over(first)
    acks.handed_over(second)

    acks.settle(second, [])
    bus.handler.process()
    assert bus.channel.frames == []  # an ack of 6 would cover 1-3, not yet persisted

    acks.settle(first, [])
    bus.handler.process()
    assert bus.channel.frames == [("ack*", 6)]


def test_an_ack_never_covers_a_requeued_message() -> None:
    bus, acks = Bus(), Acks()
    first, second = bus.deliver(2), bus.deliver(2)
    acks.handed_over(first)
    acks.handed_over(second)

    acks.settle(second, [])
    acks.settle([], first)  # e.g. the store was away for the first batch
    bus.handler.process()

    assert bus.channel.frames == [("reject", 1), ("reject", 2), ("ack*", 4)]


def test_part_of_a_batch_requeued_part_acknowledged() -> None:
    bus, acks = Bus(), Acks()
    batch = bus.deliver(4)
    acks.handed_over(batch)
    acks.settle([batch[0], batch[1], batch[3]], [batch[2]])
    bus.handler.process()
    # The reject is written first, so the ack of 4 leaves 3 where the reject put it.
    assert bus.channel.frames == [("reject", 3), ("ack*", 4)]


def test_what_was_acknowledged_is_not_acknowledged_again() -> None:
    bus, acks = Bus(), Acks()
    first, second = bus.deliver(2), bus.deliver(2)
    acks.handed_over(first)
    acks.settle(first, [])
    bus.handler.process()
    acks.handed_over(second)
    acks.settle(second, [])
    bus.handler.process()
    assert bus.channel.frames == [("ack*", 2), ("ack*", 4)]
    assert (acks.frames, acks.acknowledged) == (2, 4)


def test_each_channel_is_acknowledged_on_its_own() -> None:
    """After a reconnection the old channel's tags mean nothing on the new one."""
    old, new = Bus(), Bus()
    new.handler = old.handler
    acks = Acks()
    before, after = old.deliver(3), new.deliver(2)
    acks.handed_over(before)
    acks.handed_over(after)
    acks.settle(after, [])
    old.handler.process()
    assert (old.channel.frames, new.channel.frames) == ([], [("ack*", 2)])
    acks.settle(before, [])
    old.handler.process()
    assert old.channel.frames == [("ack*", 3)]


def test_an_ack_that_fails_leaves_the_messages_to_the_broker() -> None:
    bus, acks = Bus(), Acks()
    batch = bus.deliver(2)
    acks.handed_over(batch)
    bus.channel.closed = True
    acks.settle(batch, [])
    bus.handler.process()  # logged, not raised: the broker redelivers them
    assert (acks.frames, acks.in_flight) == (0, 0)


class Plain:
    """Another driver's message: acknowledged one by one, as oslo.messaging does."""

    def __init__(self) -> None:
        self.done: list[str] = []

    def acknowledge(self) -> None:
        self.done.append("ack")

    def requeue(self) -> None:
        self.done.append("requeue")


def test_messages_of_another_driver_are_acknowledged_one_by_one() -> None:
    acks = Acks()
    ack, back = Plain(), Plain()
    acks.handed_over([ack, back])
    acks.settle([ack], [back])
    assert (ack.done, back.done, acks.in_flight) == (["ack"], ["requeue"], 0)


class Dispatching:
    def __init__(self, result: Any) -> None:
        self.result = result

    def dispatch(self, incoming: list[Any]) -> Any:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result(incoming)


@pytest.mark.parametrize(
    ("result", "frames"),
    [
        (lambda batch: set(), [("ack*", 3)]),
        (lambda batch: {batch[1]}, [("reject", 2), ("ack*", 3)]),
        (RuntimeError("endpoint failed"), [("reject", 1), ("reject", 2), ("reject", 3)]),
    ],
)
def test_the_server_acknowledges_what_the_dispatcher_handled(result: Any, frames: Any) -> None:
    server = BatchServer.__new__(BatchServer)  # no transport: only the two hooks run
    server.acks = Acks()
    server.dispatcher = Dispatching(result)
    server._allow_requeue = True
    bus = Bus()
    batch = bus.deliver(3)
    server.acks.handed_over(batch)
    server._process_incoming(batch)
    bus.handler.process()
    assert bus.channel.frames == frames
