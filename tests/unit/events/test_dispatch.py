"""Every decoded message reaches reaper's endpoint, whatever its envelope holds."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import oslo_messaging
import pytest
from oslo_messaging.notify import dispatcher as oslo_dispatcher

from reaper.events import dispatch
from reaper.metrics import Metrics

HANDLED, REQUEUE = (
    oslo_messaging.NotificationResult.HANDLED,
    oslo_messaging.NotificationResult.REQUEUE,
)


class Incoming(SimpleNamespace):
    """What oslo.messaging hands a dispatcher: hashable by identity, as its messages are."""

    __hash__ = object.__hash__


def incoming(**message: Any) -> Incoming:
    base = {
        "message_id": "m-1",
        "publisher_id": "identity.h",
        "event_type": "identity.project.deleted",
        "priority": "INFO",
        "payload": {"resource_info": "a" * 32},
        "timestamp": "t",
    }
    return Incoming(message={**base, **message}, ctxt={})


class Endpoint:
    def __init__(self, answer: str = HANDLED) -> None:
        self.answer = answer
        self.batches: list[list[dict[str, Any]]] = []
        self.metrics = Metrics()

    def info(self, messages: list[dict[str, Any]]) -> str:
        self.batches.append(messages)
        return self.answer

    warn = error = audit = critical = debug = sample = info


def test_a_priority_that_is_not_a_string_no_longer_requeues_its_batch_forever() -> None:
    batch = [incoming(priority=42), incoming(message_id="m-2")]
    with pytest.raises(AttributeError):  # what oslo's own dispatcher did, on every redelivery
        oslo_dispatcher.BatchNotificationDispatcher([Endpoint()], None).dispatch(batch)

    endpoint = Endpoint()
    assert dispatch.Dispatcher(endpoint).dispatch(batch) == set()
    (given,) = endpoint.batches
    assert [m["priority"] for m in given] == [42, "INFO"]
    assert dispatch.priority_problem(given[0]) == "priority 42 is not one of oslo.messaging's"
    assert dispatch.priority_problem(given[1]) is None


@pytest.mark.parametrize(
    "message",
    [
        {"priority": None},
        {"priority": "bogus"},
        {"event_type": 42},
        {"event_type": None},
        {"event_type": ["identity.project.deleted"]},
        {"event_type": "identity.project.deleted\x00"},
        {"event_type": "x" * 300},
    ],
)
def test_what_oslo_dropped_or_filtered_silently_reaches_the_endpoint(message) -> None:
    endpoint = Endpoint()
    dispatch.Dispatcher(endpoint).dispatch([incoming(**message)])
    assert len(endpoint.batches) == 1


def test_other_services_notifications_are_ignored_and_counted_not_audited() -> None:
    endpoint = Endpoint()
    batch = [
        incoming(event_type="identity.authenticate"),
        incoming(event_type="compute.instance.create.end"),
    ]
    assert dispatch.Dispatcher(endpoint).dispatch(batch) == set()
    assert endpoint.batches == []
    ignored = endpoint.metrics.notifications.labels(event_type="other", outcome="ignored")
    assert ignored._value.get() == 2


def test_a_batch_the_endpoint_requeues_is_requeued_whole() -> None:
    batch = [incoming(), incoming(event_type="identity.authenticate")]
    assert dispatch.Dispatcher(Endpoint(REQUEUE)).dispatch(batch) == set(batch)


def test_an_endpoint_that_raises_requeues_instead_of_dropping() -> None:
    class Broken(Endpoint):
        def info(self, messages: list[dict[str, Any]]) -> str:
            raise RuntimeError("bug")

    batch = [incoming()]
    assert dispatch.Dispatcher(Broken()).dispatch(batch) == set(batch)


def test_a_declaring_listener_takes_nothing_away() -> None:
    endpoint = Endpoint()
    batch = [incoming(), incoming(event_type="identity.authenticate")]
    assert dispatch.Dispatcher(endpoint, consume=False).dispatch(batch) == set(batch)
    assert endpoint.batches == []


def test_an_envelope_is_built_from_anything() -> None:
    assert dispatch.envelope(None, None)["event_type"] is None
    built = dispatch.envelope({"event_type": "e", "message_id": "m", "x": 1}, "ctxt")
    assert built["ctxt"] == {} and built["metadata"] == {"message_id": "m", "timestamp": None}
