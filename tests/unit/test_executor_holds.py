"""Confirmation listings that would free nothing yet are held (:mod:`reaper.executor.holds`).

The pure rule on small graphs first, then the executor: snapshots are not
listed while the servers still hold the volumes that wait for them, and a
held kind is still confirmed by a listing (and still fails at the timeout).
"""

from __future__ import annotations

import dataclasses
import threading

import pytest

from reaper.executor import Confirmation, Result
from reaper.executor.holds import Holds, held
from reaper.executor.scheduler import Dependencies
from reaper.executor.window import Window
from reaper.model import OutcomeStatus

from .test_executor import Script, plan_of, run, step

SERVER = ("compute.server", "delete")
SNAPSHOT = ("block_storage.snapshot", "delete")
VOLUME = ("block_storage.volume", "delete")


def graph(deps: dict[str, set[str]]):
    """``deps``: step -> its unfinished dependencies; dependents derived."""
    dependents: dict[str, list[str]] = {}
    for sid, on in deps.items():
        for dep in sorted(on):
            dependents.setdefault(dep, []).append(sid)
    return (lambda sid: dependents.get(sid, [])), deps


def test_snapshots_are_held_while_the_servers_still_hold_their_volumes() -> None:
    # port waits for its server only: the server listing can free it.
    dependents, waiting = graph({"port": {"s"}, "v": {"s", "n"}, "s": set(), "n": set()})
    pending = {SERVER: ["s"], SNAPSHOT: ["n"]}

    assert held(pending, dependents, waiting, finished=set()) == {SNAPSHOT}


def test_once_the_server_is_gone_the_snapshot_is_what_the_volume_waits_for() -> None:
    dependents, waiting = graph({"port": set(), "v": {"n"}, "n": set()})

    assert held({SNAPSHOT: ["n"]}, dependents, waiting, finished={"s", "port"}) == set()


def test_kinds_that_only_wait_for_each_other_are_both_listed() -> None:
    """Neither listing alone frees the volume: each is listed, neither waits for the other."""
    dependents, waiting = graph({"v": {"s", "n"}, "s": set(), "n": set()})

    assert held({SERVER: ["s"], SNAPSHOT: ["n"]}, dependents, waiting, finished=set()) == set()


def test_a_removal_nothing_waits_for_is_listed_it_ends_the_plan() -> None:
    dependents, waiting = graph({"port": {"s"}, "n": set(), "s": set()})

    assert held({SERVER: ["s"], SNAPSHOT: ["n"]}, dependents, waiting, finished=set()) == set()


def test_a_kind_waiting_in_its_window_is_always_listed() -> None:
    """Its next removals are sent only as listings confirm the ones in progress."""
    dependents, waiting = graph({"v": {"s", "n"}, "port": {"n"}, "s": set(), "n": set()})
    pending = {SERVER: ["s"], SNAPSHOT: ["n"]}

    assert held(pending, dependents, waiting, finished=set()) == {SERVER}
    assert held(pending, dependents, waiting, finished=set(), eager=[SERVER]) == set()


def test_a_dependent_waiting_for_a_step_still_running_holds_the_listing() -> None:
    """The quota release waits for every step: while one is still running, no listing frees it."""
    dependents, waiting = graph({"quota": {"v1", "v2", "fip"}, "v1": set(), "v2": set()})

    assert held({VOLUME: ["v1", "v2"]}, dependents, waiting, finished=set()) == {VOLUME}
    _, waiting = graph({"quota": {"v1", "v2"}, "v1": set(), "v2": set()})
    assert held({VOLUME: ["v1", "v2"]}, dependents, waiting, finished={"fip"}) == set()


def test_a_request_in_flight_that_is_about_to_finish_holds_nothing() -> None:
    """The last network deletion in flight: the listing the quota release waits for overlaps it."""
    dependents, waiting = graph({"quota": {"v1", "net"}, "v1": set()})

    assert held({VOLUME: ["v1"]}, dependents, waiting, finished=set()) == {VOLUME}
    assert held({VOLUME: ["v1"]}, dependents, waiting, set(), finishing={"net"}) == set()


@dataclasses.dataclass
class Poller:
    pending: dict = dataclasses.field(default_factory=dict)
    unsent: dict = dataclasses.field(default_factory=dict)
    next_listing: dict = dataclasses.field(default_factory=dict)


@pytest.mark.parametrize(("in_flight", "holding"), [("net", set()), ("s2", {VOLUME})])
def test_only_requests_of_kinds_never_accepted_count_as_about_to_finish(
    in_flight: str, holding: set
) -> None:
    """A server's DELETE answered is a removal begun (servers were accepted before), not done."""
    volume = step("block_storage.volume", "v1")
    others = {"net": step("network.network", "net"), "s2": step("compute.server", "s2")}
    quota = step("compute.quota", "q", volume.id, others[in_flight].id)
    poller = Poller(
        pending={VOLUME: {"v1": (volume.id, 0.0, None)}},
        unsent={("network.network", "delete"): {others["net"].id}, SERVER: {others["s2"].id}},
        next_listing={VOLUME: 0.0, SERVER: 0.0},  # no network removal was accepted
    )
    graph = Dependencies([volume, *others.values(), quota])
    running = {others[in_flight].id}

    holds = Holds(poller, graph, {}, running, Window({}, print), threading.Event())  # type: ignore[arg-type]

    assert holds.kinds() == holding


def servers_snapshots_volumes(server_listings: int):
    """A server Nova takes ``server_listings`` listings to remove, with a port and a volume
    that has a snapshot; the snapshot goes at once."""
    server = step("compute.server", "s")
    port = step("network.port", "p", server.id)
    snapshot = step("block_storage.snapshot", "n")
    volume = step("block_storage.volume", "v", server.id, snapshot.id)
    asked = {"compute.server": 0}

    def servers(pending):
        asked["compute.server"] += 1
        if asked["compute.server"] <= server_listings:
            return Confirmation()
        return Confirmation(gone=frozenset(pending))

    runner = Script(
        {s.id: Result.ACCEPTED for s in (server, snapshot, volume)},
        listing={"compute.server": servers},
    )
    return plan_of(server, port, snapshot, volume), runner


def test_snapshots_are_not_listed_while_the_servers_still_hold_the_volumes() -> None:
    plan, runner = servers_snapshots_volumes(server_listings=4)

    report, _ = run(plan, runner)

    assert report.succeeded
    kinds = [rtype for rtype, _ in runner.listed]
    assert kinds.count("block_storage.snapshot") == 1
    last_server = max(i for i, k in enumerate(kinds) if k == "compute.server")
    assert kinds.index("block_storage.snapshot") > last_server
    assert report.outcomes["delete:block_storage.snapshot:n"].reason == "confirmed gone by listing"


def test_a_held_kind_is_confirmed_by_a_listing_when_the_server_never_goes() -> None:
    """The server fails at the timeout; the volume is blocked; the snapshot is still confirmed."""
    plan, runner = servers_snapshots_volumes(server_listings=10**6)

    report, _ = run(plan, runner)

    assert report.outcomes["delete:compute.server:s"].status is OutcomeStatus.FAILED
    assert report.outcomes["delete:block_storage.volume:v"].status is OutcomeStatus.BLOCKED
    snapshot = report.outcomes["delete:block_storage.snapshot:n"]
    assert (snapshot.status, snapshot.reason) == (OutcomeStatus.DONE, "confirmed gone by listing")


def test_a_held_kind_still_listed_fails_at_the_timeout() -> None:
    plan, runner = servers_snapshots_volumes(server_listings=10**6)
    runner.listing["block_storage.snapshot"] = lambda pending: Confirmation()

    report, _ = run(plan, runner)

    snapshot = report.outcomes["delete:block_storage.snapshot:n"]
    assert snapshot.status is OutcomeStatus.FAILED
    assert "still listed" in snapshot.reason


def test_a_verdict_is_kept_until_the_graph_changes_and_long_enough_to_be_cheap() -> None:
    clock = [0.0]
    stop = threading.Event()
    holds = Holds(Poller(), Dependencies([]), {}, set(), Window({}, print), stop)  # type: ignore[arg-type]
    holds.clock = lambda: clock[0]
    asked: list[int] = []

    def compute():
        clock[0] += 0.1  # a verdict that took a tenth of a second
        asked.append(1)
        return {SNAPSHOT}

    holds.compute = compute  # type: ignore[method-assign]
    assert holds.kinds() == {SNAPSHOT}
    assert holds.kinds() == {SNAPSHOT} and len(asked) == 1  # nothing changed
    assert holds.recheck_in() is None
    holds.changed()
    assert holds.kinds() == {SNAPSHOT} and len(asked) == 1  # kept: 20 x 0.1 s
    assert holds.recheck_in() == pytest.approx(2.0)
    clock[0] = 2.1
    assert holds.recheck_in() == 0.0
    holds.kinds()
    assert len(asked) == 2 and holds.recheck_in() is None
    stop.set()
    assert holds.kinds() == set()  # stopping: the dependents will not start
