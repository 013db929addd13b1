"""Live-use lookups sent while discovery still lists, with the plan unchanged.

The overlap is shown with an executor of the test's own and events, not
timing: the slow handler waits (a bounded while) for the lookup to be
handed over, which happens during discovery or never.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from typing import Any

from reaper.inventory import lookups
from reaper.inventory.ahead import Ahead, view
from reaper.inventory.base import Finding, Handler, ResourceType, Scope
from reaper.inventory.discover import Inventory, discover
from reaper.inventory.liveuse import annotate
from reaper.inventory.use import Use
from reaper.inventory.uses import FINDERS
from reaper.model import Resource
from tests.unit.test_inventory_liveuse import SCOPE, Cloud, L, V, port, res


class Inline(concurrent.futures.Executor):
    """Runs each job as it is handed over (on the handing thread), and says so."""

    def __init__(self) -> None:
        self.handed = threading.Event()
        self.jobs = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.jobs += 1
        self.handed.set()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


class Handed(Handler):
    """A handler of the given types that returns ``resources`` once ``ready`` says so."""

    service_type = "network"

    def __init__(
        self,
        types: Sequence[str],
        resources: Sequence[Resource],
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.types = tuple(ResourceType(t) for t in types)
        self.resources = tuple(resources)
        self.ready = ready
        self.saw_ready: bool | None = None

    def discover(self, conn: Any, scope: Scope) -> Finding:
        self.saw_ready = self.ready()
        return Finding(
            handler=self.types[0].name if self.types else "odd", resources=self.resources
        )


class Connected(Cloud):
    def has_service(self, service_type: str) -> bool:
        return True


def plain(cloud: Cloud, *findings: Finding) -> Inventory:
    """The inventory as it was made when live use came after every handler."""
    resources = [r for f in findings for r in f.resources]
    checked, annotated = annotate(cloud, SCOPE, resources)
    by_ref = {r.ref: r for r in annotated}
    return Inventory(
        SCOPE,
        (
            *(
                Finding(f.handler, tuple(by_ref[r.ref] for r in f.resources), skipped=f.skipped)
                for f in findings
            ),
            checked,
        ),
    )


def test_a_finder_is_sent_while_a_slower_handler_still_lists() -> None:
    """The network's port listing is handed over before the compute handler returns."""
    executor = Inline()
    net = res("network.network", "net-1")
    network = Handed(["network.network", "network.subnet"], [net])
    compute = Handed(
        ["compute.server"],
        [res("compute.server", "srv-own")],
        ready=lambda: executor.handed.wait(timeout=10),
    )
    cloud = Connected(ports={"net-1": [port("p-1", L)]})
    inventory = discover(
        cloud, SCOPE, {"a-network": network, "b-compute": compute}, executor=executor
    )
    assert compute.saw_ready is True
    assert executor.jobs == 1
    expected = plain(
        Connected(ports={"net-1": [port("p-1", L)]}),
        Finding("network.network", (net,)),
        Finding("compute.server", compute.resources),
    )
    assert inventory == expected


def test_a_finder_waits_for_every_handler_of_a_type_it_reads() -> None:
    """A volume's server may be in hand: the volumes' lookups wait for Nova's listing."""
    executor = Inline()
    producers = {
        "volumes": frozenset({"block_storage.volume"}),
        "nova": frozenset({"compute.server"}),
    }
    soon = Ahead(Cloud(), SCOPE, producers, executor.submit)
    vol = res("block_storage.volume", "vol-1", attachments=[{"server_id": "srv-own"}])
    soon.handler_done("volumes", Finding("block_storage", (vol,)))
    assert executor.jobs == 0
    soon.handler_done("nova", Finding("compute", (res("compute.server", "srv-own"),)))
    assert executor.jobs == 1  # the attachment to the server in hand
    outcome = soon.outcome("volumes", [res("compute.server", "srv-own"), vol])
    assert outcome is not None and [a.value for a in outcome.answers] == [
        [(vol.ref, Use(V, "compute.server", "srv-own", "attached to server srv-own"))]
    ]


def test_a_type_no_handler_declared_makes_the_finder_ask_again() -> None:
    """A subnet found by a handler that did not declare it changes the networks' view."""
    executor = Inline()
    network = Handed(["network.network"], [res("network.network", "net-1")])
    odd = Handed([], [res("network.subnet", "sub-1", network_id="net-2")])
    cloud = Connected(ports={"net-2": [port("p-1", L)]})
    inventory = discover(cloud, SCOPE, {"a-network": network, "b-odd": odd}, executor=executor)
    assert executor.jobs == 1  # the ports of net-1, sent early, then of both, asked again
    assert cloud.listings["filters"] == [("net-1",), ("net-1", "net-2")]
    net2 = {r.id: r for r in inventory.resources}["sub-1"]
    assert net2.attributes["in_use_by_live_project"] is True
    assert inventory == plain(
        Connected(ports={"net-2": [port("p-1", L)]}),
        Finding("network.network", network.resources),
        Finding("odd", odd.resources),
    )


def every_kind() -> list[Resource]:
    """Something of every type a finder reads, and of others, related as in a tenant."""
    grant = {"target_project_id": L, "object_type": "network", "object_id": "net-1"}
    return [
        res("compute.server", "srv-own"),
        res("network.port", "p-own", device_owner="compute:nova", device_id="srv-own"),
        res("network.network", "net-1"),
        res("network.subnet", "sub-1", network_id="net-1"),
        res("network.security_group", "sg-1"),
        res("network.qos_policy", "qos-1"),
        res("network.subnet_pool", "pool-1"),
        res("network.address_scope", "as-1"),
        res("network.rbac_policy", "rbac-1", **grant),
        res("network.floating_ip", "fip-1", port_id="p-own"),
        res("image.image", "img-1", visibility="shared"),
        res("block_storage.volume", "vol-1", attachments=[{"server_id": "srv-own"}]),
        res("block_storage.volume", "vol-2", status="awaiting-transfer"),
        res("dns.recordset", "rs-1"),
    ]


def test_every_finder_builds_the_same_lookups_from_what_it_reads_alone() -> None:
    """READS names every type a finder reads: given only those, it asks and finds the same."""
    everything = every_kind()
    for name, finder, _ in FINDERS:
        answers = []
        for given in (everything, list(view(name, everything))):
            cloud = Cloud(
                ports={"net-1": [port("p-1", L)]},
                servers={"img-1": []},
                port_by_id={},
            )
            asked: list[str] = []
            cloud.compute.get_server = lambda sid, asked=asked: asked.append(sid)
            jobs = finder(cloud, SCOPE, given)
            answered = [lookups.attempt(job) for job in jobs]
            answers.append(
                ([(a.value, repr(a.error)) for a in answered], asked, cloud.listings.get("filters"))
            )
        assert answers[0] == answers[1], name
