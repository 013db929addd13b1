"""Discovery starts the handlers with the most listings first (Neutron's before the rest)."""

from __future__ import annotations

import concurrent.futures
from typing import Any, ClassVar

import pytest

from reaper.inventory import discover
from reaper.inventory.base import Finding, Handler, Scope
from reaper.model import IdentityKind, IdentityRef

SCOPE = Scope.of(IdentityRef(IdentityKind.PROJECT, "p1"))


class InOrder(concurrent.futures.Executor):
    """An executor that runs each call as it is submitted: submission order is run order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


class Recording(Handler):
    service_type = "anything"
    started: ClassVar[list[str]] = []

    def __init__(self, name: str, listings: int) -> None:
        self.name = name
        self.listings = listings

    def discover(self, conn: Any, scope: Scope) -> Finding:
        self.started.append(self.name)
        return Finding(handler=self.name)


class Conn:
    def has_service(self, service_type: str) -> bool:
        return True


def test_the_handler_with_the_most_listings_is_started_first(monkeypatch) -> None:
    monkeypatch.setattr(discover.concurrent.futures, "ThreadPoolExecutor", InOrder)
    Recording.started = []
    chosen = {
        "alpha": Recording("alpha", 1),
        "network": Recording("network", 11),
        "beta": Recording("beta", 3),
        "gamma": Recording("gamma", 3),
    }
    discover.discover(Conn(), SCOPE, chosen)
    # The most listings first; ties in name order, as every handler was started before.
    assert Recording.started == ["network", "beta", "gamma", "alpha"]


def test_neutron_is_started_before_every_other_registered_handler() -> None:
    order = [name for name, _ in discover.in_start_order(discover.handlers())]
    assert order[0] == "network"
    assert sorted(order) == sorted(discover.handlers())


@pytest.mark.parametrize("name", ["compute", "block_storage", "image"])
def test_each_core_handler_sends_fewer_listings_than_neutron(name: str) -> None:
    handlers = discover.handlers()
    assert handlers[name].listings < handlers["network"].listings
