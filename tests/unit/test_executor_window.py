"""Server deletions are paced: at most a window of them in progress, sent to confirmed gone.

Nova answers a DELETE at once and does the work afterwards, for every
server it was handed together; the window (``[executor]
server_delete_window``) hands it the next one when a listing confirms one
gone. The window's rules are pure (:class:`Window`); the executor's tests
check that it bounds what a plan has in progress, that listings do not wait
for the deletions it holds back, and that a stop leaves those without an
outcome.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from reaper.executor import Confirmation, Executor, Result
from reaper.executor.window import Window
from reaper.model import OutcomeStatus

from .test_executor import FAST, Script, plan_of, step


def window(sizes):
    sent: list[str] = []
    held: list[str] = []
    return Window(sizes, send=sent.append, waits=lambda s: held.append(s.id)), sent, held


def test_a_type_without_a_window_is_sent_at_once() -> None:
    w, sent, held = window({"compute.server": 0})
    steps = [step("compute.server", f"s{i}") for i in range(5)] + [step("network.port", "p")]
    for s in steps:
        w.submit(s)
    assert sent == [s.id for s in steps]
    assert held == []


def test_removals_beyond_the_window_wait_and_go_in_order_as_others_finish() -> None:
    w, sent, held = window({"compute.server": 2})
    servers = [step("compute.server", f"s{i}") for i in range(5)]
    for s in servers:
        w.submit(s)
    assert sent == [servers[0].id, servers[1].id]
    assert held == [s.id for s in servers[2:]]
    assert w.in_progress("compute.server") == 2
    w.done(servers[1].id)
    assert sent[2:] == [servers[2].id]
    w.done(servers[0].id)
    w.done(servers[2].id)
    assert sent[3:] == [servers[3].id, servers[4].id]
    assert w.waiting_ids("compute.server") == []
    assert w.in_progress("compute.server") == 2


def test_a_newcomer_does_not_overtake_those_waiting() -> None:
    w, sent, _ = window({"compute.server": 1})
    a, b, c = (step("compute.server", x) for x in "abc")
    w.submit(a)
    w.submit(b)
    w.done(a.id, more=False)  # stopping: nothing more goes
    assert sent == [a.id]
    w.submit(c)  # room now, but b came first
    assert sent == [a.id]
    assert w.waiting_ids("compute.server") == [b.id, c.id]


def test_only_removals_enter_a_window() -> None:
    w, sent, _ = window({"compute.server": 1})
    stops = [step("compute.server", f"s{i}", action="stop") for i in range(3)]
    for s in stops:
        w.submit(s)
    assert sent == [s.id for s in stops]
    w.done(stops[0].id)  # never in the window: nothing to release
    assert w.in_progress("compute.server") == 0


def test_steps_of_other_types_do_not_free_a_windows_room() -> None:
    w, sent, _ = window({"compute.server": 1})
    a, b = step("compute.server", "a"), step("compute.server", "b")
    port = step("network.port", "p")
    for s in (a, b, port):
        w.submit(s)
    w.done(port.id)
    assert sent == [a.id, port.id]


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        Window({"compute.server": -1}, send=lambda sid: None)


class Nova:
    """Servers that go a moment after their DELETE; counts how many are in progress."""

    def __init__(self, takes: float = 0.05) -> None:
        self.takes = takes
        self.lock = threading.Lock()
        self.in_progress: set[str] = set()
        self.peak = 0

    def accepted(self, rid: str) -> None:
        with self.lock:
            self.in_progress.add(rid)
            self.peak = max(self.peak, len(self.in_progress))

    def listing(self, script: Script):
        def confirm(pending):
            now = time.monotonic()
            gone = frozenset(
                rid
                for rid in pending
                if rid in script.deleted_at and now - script.deleted_at[rid] >= self.takes
            )
            with self.lock:
                self.in_progress -= gone
            return Confirmation(gone=gone)

        return confirm


def paced_run(servers, size, *, stop=None, takes=0.05):
    nova = Nova(takes)
    behaviour = {}
    for s in servers:

        def accept(n, rid=s.resource.id):
            nova.accepted(rid)
            return Result.ACCEPTED

        behaviour[s.id] = accept
    runner = Script(behaviour)
    runner.listing = {"compute.server": nova.listing(runner)}
    limits = dataclasses.replace(
        FAST,
        concurrency={**FAST.concurrency, "compute": 8},
        confirm_timeout=5.0,
        windows={"compute.server": size},
    )
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(
        plan_of(*servers), stop=stop
    )
    return report, runner, nova


def test_the_executor_keeps_at_most_a_window_of_servers_in_progress() -> None:
    servers = [step("compute.server", f"s{i}") for i in range(9)]
    report, runner, nova = paced_run(servers, 3)
    assert report.succeeded
    assert nova.peak == 3  # with a compute cap of 8, all nine would have been in progress
    assert sorted(runner.started) == sorted(s.id for s in servers)
    # Sent in plan order: a window takes them as they came.
    assert runner.started == [s.id for s in servers]


def test_without_a_window_every_server_is_handed_over_at_once() -> None:
    servers = [step("compute.server", f"s{i}") for i in range(9)]
    report, _, nova = paced_run(servers, 0, takes=0.2)
    assert report.succeeded
    assert nova.peak == 9


def test_a_listing_does_not_wait_for_the_deletions_the_window_holds_back() -> None:
    # The poller holds a type's listing back while more of its deletions are still to
    # be sent (up to confirm_max_interval). Those a window holds are sent only after
    # a listing: waiting for them would cost every turn the longest gap.
    servers = [step("compute.server", f"s{i}") for i in range(6)]
    slow = dataclasses.replace(FAST, confirm_max_interval=2.0)
    nova = Nova(0.0)
    runner = Script({s.id: Result.ACCEPTED for s in servers})
    runner.listing = {"compute.server": nova.listing(runner)}
    limits = dataclasses.replace(slow, confirm_timeout=10.0, windows={"compute.server": 1})
    started = time.monotonic()
    report = Executor(runner, limits=limits, sleep=lambda s: None).execute(plan_of(*servers))
    assert report.succeeded
    assert time.monotonic() - started < 2.0  # six turns of 2 s each would take 12


def test_a_stop_leaves_the_servers_waiting_their_turn_without_an_outcome() -> None:
    servers = [step("compute.server", f"s{i}") for i in range(6)]
    stop = threading.Event()
    threading.Timer(0.02, stop.set).start()
    report, runner, _ = paced_run(servers, 2, stop=stop, takes=0.2)
    assert report.interrupted
    sent = set(runner.started)
    assert len(sent) == 2
    for s in servers:
        if s.id in sent:
            assert report.outcomes[s.id].status is OutcomeStatus.DONE
        else:
            assert s.id not in report.outcomes


def test_the_option_is_the_servers_window(tmp_path) -> None:
    from reaper import config
    from reaper.executor import Limits

    conf_file = tmp_path / "reaper.conf"
    conf_file.write_text("[executor]\nserver_delete_window = 3\n")
    limits = Limits.from_conf(config.make_conf(["--config-file", str(conf_file)]))
    assert limits.windows == {"compute.server": 3}
    conf_file.write_text("[executor]\n")
    default = Limits.from_conf(config.make_conf(["--config-file", str(conf_file)]))
    assert default.windows == Limits().windows
