"""The executor: dependency order, bounded concurrency, retries, confirmation, dry-run.

A scripted runner stands in for the cloud: these tests are about what runs
when and what each step's final word is.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import threading
import time

import pytest

from reaper.executor import (
    Attempt,
    Confirmation,
    Executor,
    Fatal,
    Limits,
    Precheck,
    Result,
    Transient,
)
from reaper.model import (
    IdentityKind,
    IdentityRef,
    OutcomeStatus,
    Plan,
    Resource,
    ResourceRef,
    Step,
)

T0 = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)
FAST = Limits(
    concurrency={"compute": 2, "network": 3, "block_storage": 2, "image": 1},
    retry_attempts=4,
    retry_initial_wait=0.001,
    retry_max_wait=0.01,
    confirm_interval=0.01,
    confirm_max_interval=0.05,
    confirm_timeout=0.5,
)


def step(rtype: str, rid: str, *deps: str, action: str = "delete", after=None) -> Step:
    return Step(
        id=f"{action}:{rtype}:{rid}",
        action=action,
        resource=ResourceRef(rtype, rid),
        depends_on=tuple(deps),
        after=after,
    )


def plan_of(*steps: Step, created_at: dt.datetime = T0) -> Plan:
    resources = {s.resource: Resource(type=s.resource.type, id=s.resource.id) for s in steps}
    return Plan(
        identity=IdentityRef(IdentityKind.PROJECT, "p"),
        created_at=created_at,
        resources=tuple(resources.values()),
        steps=steps,
    )


class Script:
    """A runner whose behaviour per step id is scripted; records what happened."""

    def __init__(
        self, behaviour=None, *, delay: float = 0.0, precheck=None, listing=None, lookup=()
    ):
        self.behaviour = behaviour or {}
        self.delay = delay
        self.started: list[str] = []
        self.finished: list[str] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.active: collections.Counter[str] = collections.Counter()
        self.peak: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.listings: collections.Counter[str] = collections.Counter()
        self.deleted_at: dict[str, float] = {}
        self._precheck = precheck or {}
        self.listing = listing  # rtype -> callable(pending) -> Confirmation
        self.lookup = set(lookup)  # step ids the runner asks to look up first
        self.listed: list[tuple[str, frozenset[str]]] = []

    def precheck(self, steps, resources):
        return {s.resource: self._precheck.get(s.id, Precheck.PRESENT) for s in steps}

    def run(self, s: Step, resource) -> Attempt:
        service = s.service
        with self.lock:
            self.calls[s.id] += 1
            self.started.append(s.id)
            self.active[service] += 1
            self.peak[service] = max(self.peak[service], self.active[service])
        try:
            time.sleep(self.delay)
            behaviour = self.behaviour.get(s.id, Result.DONE)
            if callable(behaviour):
                behaviour = behaviour(self.calls[s.id])
            if isinstance(behaviour, Exception):
                raise behaviour
            if behaviour is Result.ACCEPTED:
                self.deleted_at[s.resource.id] = time.monotonic()
            return Attempt(behaviour, "scripted")
        finally:
            with self.lock:
                self.active[service] -= 1
                self.finished.append(s.id)

    def lookup_first(self, s: Step, resource) -> bool:
        return s.id in self.lookup

    def confirm(self, rtype, action, pending) -> Confirmation:
        self.listings[rtype] += 1
        self.listed.append((rtype, frozenset(pending)))
        if self.listing and rtype in self.listing:
            return self.listing[rtype](pending)
        return Confirmation(gone=frozenset(pending))


def run(plan: Plan, runner: Script, **kwargs):
    observer = Recorder()
    ex = Executor(runner, limits=FAST, observer=observer, sleep=lambda s: None, **kwargs)
    return ex.execute(plan), observer


class Recorder:
    def __init__(self):
        self.events: list[tuple] = []
        self.lock = threading.Lock()

    def step_started(self, s, r):
        with self.lock:
            self.events.append(("start", s.id))

    def step_retrying(self, s, attempt, error, delay):
        with self.lock:
            self.events.append(("retry", s.id, attempt, error, delay))

    def step_finished(self, s, outcome, r):
        with self.lock:
            self.events.append(("finish", s.id, outcome.status))


def test_dependencies_finish_before_their_dependents_start() -> None:
    fip = step("network.floating_ip", "f")
    iface = step("network.router_interface", "i", fip.id)
    router = step("network.router", "r", iface.id)
    runner = Script(delay=0.01)
    report, _ = run(plan_of(fip, iface, router), runner)
    assert report.succeeded
    assert runner.finished.index(fip.id) < runner.started.index(iface.id)
    assert runner.finished.index(iface.id) < runner.started.index(router.id)


def test_concurrency_is_bounded_per_service() -> None:
    steps = [step("compute.server", f"s{i}") for i in range(10)]
    steps += [step("network.port", f"p{i}") for i in range(10)]
    runner = Script(delay=0.02)
    report, _ = run(plan_of(*steps), runner)
    assert report.succeeded
    assert runner.peak["compute"] == 2
    assert runner.peak["network"] == 3


def test_transient_failures_are_retried_and_every_retry_is_recorded() -> None:
    s = step("network.port", "p")
    flaky = {s.id: lambda n: Transient("HTTP 503") if n < 3 else Result.DONE}
    report, observer = run(plan_of(s), Script(flaky))
    outcome = report.outcomes[s.id]
    assert outcome.status is OutcomeStatus.DONE
    assert outcome.attempts == 3
    assert len(outcome.retries) == 2 and "HTTP 503" in outcome.retries[0]
    assert [e[2] for e in observer.events if e[0] == "retry"] == [1, 2]


def test_retry_after_is_honoured() -> None:
    s = step("network.port", "p")
    slept: list[float] = []
    runner = Script({s.id: lambda n: Transient("429", retry_after=0.2) if n == 1 else Result.DONE})
    limits = Limits(retry_initial_wait=0.001, retry_max_wait=0.05, confirm_interval=0.01)
    report = Executor(runner, limits=limits, sleep=slept.append).execute(plan_of(s))
    assert report.outcomes[s.id].status is OutcomeStatus.DONE
    assert slept == [pytest.approx(0.2)]


def test_retries_are_bounded() -> None:
    s = step("network.port", "p")
    runner = Script({s.id: Transient("HTTP 500")})
    report, _ = run(plan_of(s), runner)
    assert report.outcomes[s.id].status is OutcomeStatus.FAILED
    assert runner.calls[s.id] == FAST.retry_attempts


def test_a_failure_blocks_its_dependents_but_not_independent_branches() -> None:
    snap = step("block_storage.snapshot", "sn")
    vol = step("block_storage.volume", "v", snap.id)
    other = step("network.port", "p")
    runner = Script({snap.id: Fatal("HTTP 400 bad request")})
    report, _ = run(plan_of(snap, vol, other), runner)
    assert report.outcomes[snap.id].status is OutcomeStatus.FAILED
    assert "400" in report.outcomes[snap.id].reason
    blocked = report.outcomes[vol.id]
    assert blocked.status is OutcomeStatus.BLOCKED and snap.id in blocked.reason
    assert report.outcomes[other.id].status is OutcomeStatus.DONE
    assert runner.calls[vol.id] == 0
    assert not report.succeeded


def test_an_unexpected_exception_is_a_failure_not_a_crash() -> None:
    s = step("network.port", "p")
    report, _ = run(plan_of(s), Script({s.id: KeyError("surprise")}))
    assert report.outcomes[s.id].status is OutcomeStatus.FAILED
    assert "KeyError" in report.outcomes[s.id].reason


def test_404_on_delete_is_already_gone_and_lets_dependents_run() -> None:
    port = step("network.port", "p")
    net = step("network.network", "n", port.id)
    report, _ = run(plan_of(port, net), Script({port.id: Result.GONE}))
    assert report.outcomes[port.id].status is OutcomeStatus.ALREADY_GONE
    assert report.outcomes[net.id].status is OutcomeStatus.DONE
    assert report.succeeded


def test_asynchronous_deletions_are_confirmed_by_one_listing_per_type_per_round() -> None:
    servers = [step("compute.server", f"s{i}") for i in range(12)]
    volume = step("block_storage.volume", "v", *[s.id for s in servers])
    runner = Script({s.id: Result.ACCEPTED for s in servers})
    report, _ = run(plan_of(*servers, volume), runner)
    assert report.succeeded
    assert all(report.outcomes[s.id].reason == "confirmed gone by listing" for s in servers)
    # 12 servers waited on, far fewer listings than one per server per round.
    assert runner.listings["compute.server"] <= 4


def test_dependents_wait_for_confirmation_not_for_acceptance() -> None:
    server = step("compute.server", "s")
    volume = step("block_storage.volume", "v", server.id)
    seen_gone = threading.Event()

    def listing(pending):
        if time.monotonic() - runner.deleted_at["s"] < 0.05:
            return Confirmation()
        seen_gone.set()
        return Confirmation(gone=frozenset(pending))

    runner = Script({server.id: Result.ACCEPTED}, listing={"compute.server": listing})
    report, _ = run(plan_of(server, volume), runner)
    assert report.succeeded and seen_gone.is_set()
    assert runner.listings["compute.server"] >= 2


def test_a_resource_still_listed_after_the_timeout_fails() -> None:
    server = step("compute.server", "s")
    runner = Script(
        {server.id: Result.ACCEPTED}, listing={"compute.server": lambda p: Confirmation()}
    )
    report, _ = run(plan_of(server), runner)
    assert report.outcomes[server.id].status is OutcomeStatus.FAILED
    assert "still listed" in report.outcomes[server.id].reason


def test_an_error_state_seen_while_confirming_fails_the_step() -> None:
    vol = step("block_storage.volume", "v")
    runner = Script(
        {vol.id: Result.ACCEPTED},
        listing={"block_storage.volume": lambda p: Confirmation(failed={"v": "error_deleting"})},
    )
    report, _ = run(plan_of(vol), runner)
    assert report.outcomes[vol.id].status is OutcomeStatus.FAILED
    assert report.outcomes[vol.id].reason == "error_deleting"


def test_dry_run_reports_what_would_happen_and_follows_the_whole_plan() -> None:
    port = step("network.port", "p")
    net = step("network.network", "n", port.id)
    runner = Script({port.id: Result.WOULD, net.id: Result.WOULD})
    report, _ = run(plan_of(port, net), runner, dry_run=True)
    assert [report.outcomes[s].status for s in (port.id, net.id)] == [OutcomeStatus.SKIPPED] * 2
    assert report.outcomes[net.id].reason.startswith("dry-run: ")
    assert report.succeeded


def test_grace_periods_defer_the_step_and_its_dependents() -> None:
    server = step("compute.server", "s", after=dt.timedelta(days=7))
    port = step("network.port", "p", server.id)
    lock = step("compute.server", "s", action="lock")
    report, _ = run(plan_of(lock, server, port), Script(), now=lambda: T0 + dt.timedelta(days=1))
    assert report.outcomes[server.id].status is OutcomeStatus.DEFERRED
    assert "due 2026-12-03T12:00:00Z" in report.outcomes[server.id].reason
    assert report.outcomes[port.id].status is OutcomeStatus.DEFERRED
    assert report.outcomes[lock.id].status is OutcomeStatus.DONE
    later, _ = run(
        plan_of(lock, server, port),
        runner := Script(),
        now=lambda: T0 + dt.timedelta(days=8),
    )
    assert later.succeeded and runner.calls[server.id] == 1


def test_steps_done_in_an_earlier_run_are_never_run_again() -> None:
    a = step("network.port", "a")
    b = step("network.network", "b", a.id)
    first, _ = run(plan_of(a, b), Script({b.id: Fatal("HTTP 400")}))
    runner = Script()
    report = Executor(runner, limits=FAST, sleep=lambda s: None).execute(
        plan_of(a, b), previous=first.outcomes
    )
    assert runner.calls[a.id] == 0 and runner.calls[b.id] == 1
    assert report.outcomes[a.id].status is OutcomeStatus.DONE
    assert report.succeeded


def test_prechecks_spare_requests_and_fail_closed() -> None:
    gone = step("network.port", "gone")
    moved = step("network.port", "moved")
    kept = step("network.network", "kept")
    after_moved = step("network.subnet", "s", moved.id)
    runner = Script(
        precheck={
            gone.id: Precheck.GONE,
            moved.id: Precheck.OWNER_CHANGED,
            kept.id: Precheck.PROTECTED,
        }
    )
    report, _ = run(plan_of(gone, moved, kept, after_moved), runner)
    assert report.outcomes[gone.id].status is OutcomeStatus.ALREADY_GONE
    assert report.outcomes[moved.id].status is OutcomeStatus.SKIPPED
    assert report.outcomes[kept.id].status is OutcomeStatus.SKIPPED
    assert report.outcomes[after_moved.id].status is OutcomeStatus.BLOCKED
    assert sum(runner.calls.values()) == 0


def test_a_step_that_could_not_be_rechecked_is_blocked_and_never_sent() -> None:
    """Its service's listing failed just before the run: nothing says whose it is now."""
    unchecked = step("compute.server", "s1")
    after = step("network.port", "p1", unchecked.id)
    runner = Script(precheck={unchecked.id: Precheck.UNCHECKED})

    report, _ = run(plan_of(unchecked, after), runner)

    assert report.outcomes[unchecked.id].status is OutcomeStatus.BLOCKED
    assert "not re-checked" in report.outcomes[unchecked.id].reason
    assert report.outcomes[after.id].status is OutcomeStatus.BLOCKED
    assert sum(runner.calls.values()) == 0
    assert not report.succeeded


def test_every_step_gets_exactly_one_final_word() -> None:
    steps = [step("compute.server", f"s{i}") for i in range(5)]
    steps += [step("network.port", f"p{i}", steps[i].id) for i in range(5)]
    behaviour = {steps[1].id: Fatal("x"), steps[2].id: Result.GONE, steps[3].id: Result.ACCEPTED}
    report, observer = run(plan_of(*steps), Script(behaviour))
    assert set(report.outcomes) == {s.id for s in steps}
    finished = [e[1] for e in observer.events if e[0] == "finish"]
    assert sorted(finished) == sorted(s.id for s in steps)


def test_a_stop_request_lets_steps_in_flight_finish_and_starts_no_more() -> None:
    stop = threading.Event()
    first = step("compute.server", "s1")
    second = step("network.port", "p", first.id)

    def slow(n: int) -> Result:
        stop.set()  # SIGTERM arrives while the first step is in flight
        time.sleep(0.05)
        return Result.DONE

    runner = Script({first.id: slow})
    report = Executor(runner, limits=FAST, sleep=lambda s: None).execute(
        plan_of(first, second), stop=stop
    )
    assert report.outcomes[first.id].status is OutcomeStatus.DONE
    assert second.id not in report.outcomes
    assert runner.calls[second.id] == 0
    assert report.interrupted and not report.succeeded


def _servers_with_ports(n: int):
    servers = [step("compute.server", f"s{i}") for i in range(n)]
    ports = [step("network.port", f"p{i}", servers[i].id) for i in range(n)]
    net = step("network.network", "n", *[p.id for p in ports])
    return servers, ports, net


def test_ports_nova_took_along_are_looked_up_in_one_listing_not_deleted() -> None:
    servers, ports, net = _servers_with_ports(6)
    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        lookup={p.id for p in ports},
        listing={"network.port": lambda pending: Confirmation(gone=frozenset(pending))},
    )
    report, observer = run(plan_of(*servers, *ports, net), runner)
    assert report.succeeded
    for p in ports:
        assert report.outcomes[p.id].status is OutcomeStatus.ALREADY_GONE
        assert runner.calls[p.id] == 0
        assert ("start", p.id) not in observer.events
    assert report.outcomes[net.id].status is OutcomeStatus.DONE
    # Far fewer listings than ports: they become ready together, with their servers.
    assert runner.listings["network.port"] < len(ports)


def test_looked_up_ports_still_listed_are_deleted() -> None:
    servers, ports, net = _servers_with_ports(3)
    kept = ports[1].resource.id  # a port the user made: Nova leaves it

    def listing(pending):
        return Confirmation(gone=frozenset(pending) - {kept})

    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        lookup={p.id for p in ports},
        listing={"network.port": listing},
    )
    report, _ = run(plan_of(*servers, *ports, net), runner)
    assert report.succeeded
    assert report.outcomes[ports[1].id].status is OutcomeStatus.DONE
    assert runner.calls[ports[1].id] == 1
    assert runner.calls[ports[0].id] == runner.calls[ports[2].id] == 0


def test_a_failed_lookup_proves_nothing_and_the_steps_run() -> None:
    servers, ports, net = _servers_with_ports(2)

    def broken(pending):
        raise ConnectionError("listing lost")

    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        lookup={p.id for p in ports},
        listing={"network.port": broken},
    )
    report, _ = run(plan_of(*servers, *ports, net), runner)
    assert report.succeeded
    assert all(report.outcomes[p.id].status is OutcomeStatus.DONE for p in ports)
    assert all(runner.calls[p.id] == 1 for p in ports)


def test_lookups_wait_for_the_steps_they_depend_on() -> None:
    servers, ports, net = _servers_with_ports(2)
    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        lookup={p.id for p in ports},
    )
    run(plan_of(*servers, *ports, net), runner)
    first_port_listing = next(i for i, (t, _) in enumerate(runner.listed) if t == "network.port")
    confirmed_servers = set()
    for rtype, ids in runner.listed[:first_port_listing]:
        if rtype == "compute.server":
            confirmed_servers |= ids
    assert confirmed_servers == {"s0", "s1"}


def test_a_dry_run_looks_nothing_up() -> None:
    servers, ports, net = _servers_with_ports(2)
    runner = Script(lookup={p.id for p in ports})
    run(plan_of(*servers, *ports, net), runner, dry_run=True)
    assert runner.listings["network.port"] == 0
    assert all(runner.calls[p.id] == 1 for p in ports)


def _one_gone_per_listing(pending):
    """Servers that disappear one per listing, as nova-compute removes them."""
    return Confirmation(gone=frozenset(sorted(pending)[:1]))


def test_lookups_of_a_kind_share_one_listing_while_their_servers_trickle_out() -> None:
    servers, ports, net = _servers_with_ports(5)
    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        lookup={p.id for p in ports},
        listing={
            "compute.server": _one_gone_per_listing,
            "network.port": lambda pending: Confirmation(gone=frozenset(pending)),
        },
    )
    report, _ = run(plan_of(*servers, *ports, net), runner)
    assert report.succeeded
    assert runner.listings["compute.server"] >= 5
    # The last server's port makes the batch due: one listing covers all five.
    assert runner.listings["network.port"] == 1
    assert [len(ids) for t, ids in runner.listed if t == "network.port"] == [5]


def test_a_lookup_waits_for_the_others_only_so_long() -> None:
    """When it would let a step start: the fast server's port alone holds up a subnet."""
    servers, ports, net = _servers_with_ports(2)
    subnet = step("network.subnet", "sub0", ports[0].id)
    slow = servers[1].resource.id
    release = threading.Event()

    def listing(pending):
        if release.is_set():
            return Confirmation(gone=frozenset(pending))
        return Confirmation(gone=frozenset(pending) - {slow})

    def ports_listing(pending):
        release.set()  # the fast port was looked up without waiting for the slow server
        return Confirmation(gone=frozenset(pending))

    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        lookup={p.id for p in ports},
        listing={"compute.server": listing, "network.port": ports_listing},
    )
    limits = dataclasses.replace(FAST, lookup_wait=0.05, confirm_timeout=5.0)
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(
        plan_of(*servers, *ports, net, subnet)
    )
    assert report.succeeded
    assert [sorted(ids) for t, ids in runner.listed if t == "network.port"] == [["p0"], ["p1"]]


def test_a_lookup_that_would_let_nothing_start_waits_for_the_others_however_long() -> None:
    """The network waits for every port: a listing for the fast server's alone is wasted.

    The slow server goes only after the fast one's port could have been looked
    up twenty times over; one port listing covers both.
    """
    servers, ports, net = _servers_with_ports(2)
    slow = servers[1].resource.id
    since = time.monotonic()

    def listing(pending):
        if time.monotonic() - since > 1.0:
            return Confirmation(gone=frozenset(pending))
        return Confirmation(gone=frozenset(pending) - {slow})

    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        lookup={p.id for p in ports},
        listing={
            "compute.server": listing,
            "network.port": lambda pending: Confirmation(gone=frozenset(pending)),
        },
    )
    limits = dataclasses.replace(FAST, lookup_wait=0.05, confirm_timeout=5.0)
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(
        plan_of(*servers, *ports, net)
    )
    assert report.succeeded
    assert [sorted(ids) for t, ids in runner.listed if t == "network.port"] == [["p0", "p1"]]


def test_a_blocked_step_does_not_hold_the_lookup_of_the_others() -> None:
    servers, ports, net = _servers_with_ports(2)
    runner = Script(
        {servers[0].id: Result.ACCEPTED, servers[1].id: Fatal("HTTP 403")},
        lookup={p.id for p in ports},
    )
    limits = dataclasses.replace(FAST, lookup_wait=60.0)
    started = time.monotonic()
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(
        plan_of(*servers, *ports, net)
    )
    assert time.monotonic() - started < 10
    assert report.outcomes[ports[0].id].status is OutcomeStatus.ALREADY_GONE
    assert report.outcomes[ports[1].id].status is OutcomeStatus.BLOCKED


def test_confirmation_rounds_are_paced_however_many_steps_finish() -> None:
    servers = [step("compute.server", f"s{i}") for i in range(40)]
    gone_after = time.monotonic() + 0.5
    rounds: list[float] = []

    def listing(pending):
        rounds.append(time.monotonic())
        return Confirmation(gone=frozenset(pending) if time.monotonic() > gone_after else set())

    runner = Script(
        {s.id: Result.ACCEPTED for s in servers},
        delay=0.01,  # acceptances trickle in, each one a notification
        listing={"compute.server": listing},
    )
    # Every server sent at once (no window: test_executor_window paces them): the listings
    # alone keep the pace here.
    limits = dataclasses.replace(FAST, confirm_interval=0.1, confirm_timeout=5.0, windows={})
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(plan_of(*servers))
    assert report.succeeded
    gaps = [b - a for a, b in itertools.pairwise(rounds)]
    assert gaps and min(gaps) >= 0.09
    assert len(rounds) <= 9


def test_a_types_next_listing_waits_the_interval_after_the_previous_one_ended() -> None:
    servers = [step("compute.server", f"s{i}") for i in range(3)]
    gone_after = time.monotonic() + 0.6
    spans: list[tuple[float, float]] = []

    def slow_listing(pending):
        begun = time.monotonic()
        time.sleep(0.1)  # a loaded Nova answering a listing
        spans.append((begun, time.monotonic()))
        return Confirmation(gone=frozenset(pending) if time.monotonic() > gone_after else set())

    runner = Script(
        {s.id: Result.ACCEPTED for s in servers}, listing={"compute.server": slow_listing}
    )
    limits = dataclasses.replace(
        FAST, confirm_interval=0.1, confirm_max_interval=0.1, confirm_timeout=5.0
    )
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(plan_of(*servers))
    assert report.succeeded
    idle = [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(spans)]
    assert idle and min(idle) >= 0.09


def test_a_slow_type_does_not_hold_up_the_listings_of_another() -> None:
    server = step("compute.server", "s0")
    volume = step("block_storage.volume", "v0")
    volume_listed = threading.Event()

    def slow_servers(pending):
        volume_listed.wait(2.0)  # a server listing that lasts until the volume was confirmed
        return Confirmation(gone=frozenset(pending))

    def volumes(pending):
        volume_listed.set()
        return Confirmation(gone=frozenset(pending))

    def accepted_late(_: int) -> Result:
        time.sleep(0.2)  # accepted while the server listing is already under way
        return Result.ACCEPTED

    runner = Script(
        {server.id: Result.ACCEPTED, volume.id: accepted_late},
        listing={"compute.server": slow_servers, "block_storage.volume": volumes},
    )
    limits = dataclasses.replace(FAST, confirm_interval=0.01, confirm_timeout=5.0)
    began = time.monotonic()
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(plan_of(server, volume))
    assert report.succeeded
    assert time.monotonic() - began < 1.5


def test_deletions_released_in_waves_are_confirmed_together_once_the_last_is_sent() -> None:
    servers = [step("compute.server", f"s{i}") for i in range(6)]
    volumes = [step("block_storage.volume", f"v{i}", s.id) for i, s in enumerate(servers)]
    confirmed: list[str] = []

    def one_server_per_listing(pending):
        nxt = sorted(pending)[:1]  # Nova finishes them one by one
        confirmed.extend(nxt)
        return Confirmation(gone=frozenset(nxt))

    runner = Script(
        {s.id: Result.ACCEPTED for s in [*servers, *volumes]},
        listing={"compute.server": one_server_per_listing},
    )
    limits = dataclasses.replace(
        FAST, confirm_interval=0.02, confirm_max_interval=1.0, confirm_timeout=5.0
    )
    began = time.monotonic()
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(
        plan_of(*servers, *volumes)
    )
    assert report.succeeded
    assert runner.listings["compute.server"] >= 6
    # Six waves of one volume each, one listing: held until the last volume was sent...
    assert runner.listings["block_storage.volume"] == 1
    # ...and not a moment longer: the hold ends with the last wave, not at its limit.
    assert time.monotonic() - began < 0.9


def test_a_held_listing_still_comes_within_the_longest_interval() -> None:
    server = step("compute.server", "s0")
    late = step("compute.server", "s1", "delete:image.image:i0")
    image = step("image.image", "i0")
    listed_at: list[float] = []

    def slow_refusal(_: int) -> Exception:
        time.sleep(0.8)  # s1 stays unsent all this while
        return Fatal("HTTP 403")

    def servers(pending):
        listed_at.append(time.monotonic())
        return Confirmation(gone=frozenset(pending))

    runner = Script(
        {server.id: Result.ACCEPTED, late.id: Result.ACCEPTED, image.id: slow_refusal},
        listing={"compute.server": servers},
    )
    limits = dataclasses.replace(
        FAST, confirm_interval=0.02, confirm_max_interval=0.3, confirm_timeout=5.0
    )
    began = time.monotonic()
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(
        plan_of(server, image, late)
    )
    assert report.outcomes[server.id].status is OutcomeStatus.DONE
    assert report.outcomes[late.id].status is OutcomeStatus.BLOCKED
    assert 0.25 <= listed_at[0] - began < 0.7


def test_a_round_lists_its_types_side_by_side() -> None:
    kinds = ("compute.server", "block_storage.volume", "block_storage.snapshot")
    steps = [step(kind, f"{kind}-x") for kind in kinds]
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(pending):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.1)
        with lock:
            active[0] -= 1
        return Confirmation(gone=frozenset(pending))

    runner = Script({s.id: Result.ACCEPTED for s in steps}, listing=dict.fromkeys(kinds, slow))
    # A first round late enough that all three deletions are pending by then.
    limits = dataclasses.replace(FAST, confirm_interval=0.3)
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(plan_of(*steps))
    assert report.succeeded
    assert peak[0] == len(kinds)


def test_a_step_the_recheck_finds_in_use_by_a_live_project_is_kept_not_run() -> None:
    from reaper.executor import InUseNow

    use = {"project_id": "l", "type": "network.port", "id": "p-1"}
    net = step("network.network", "n")
    runner = Script(precheck={net.id: InUseNow("kept: in use by live project l", (use,))})
    outcome = Executor(runner, limits=FAST).execute(plan_of(net)).outcomes[net.id]
    assert (outcome.status, outcome.reason, outcome.used_by) == (
        OutcomeStatus.KEPT,
        "kept: in use by live project l",
        (use,),
    )
    assert runner.calls[net.id] == 0
