"""Progress on stderr: a retry is said at once with its reason and what comes next;
discovery says each service as its listing ends."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from cliff.command import Command

from reaper import progress
from reaper.cleanup.settings import Settings
from reaper.cli.apply import ApplyCommand
from reaper.cli.osc.client import ReaperClient
from reaper.cli.osc.commands import _on_osc
from reaper.cli.progress import Discovery, Progress, discovery, quiet, retry_line
from reaper.executor import Executor
from reaper.executor.contract import Transient
from reaper.inventory.base import gather
from reaper.model import ResourceRef, Step
from tests.unit.test_executor import FAST, Result, Script, plan_of


def volume_step(rid: str = "v1") -> Step:
    return Step(
        id=f"delete:{rid}", action="delete", resource=ResourceRef("block_storage.volume", rid)
    )


def test_a_retry_line_names_the_resource_the_answer_and_what_happens_next() -> None:
    line = retry_line(volume_step(), 3, "Transient: HTTP 500: cinder fell over", 4.2, attempts=8)
    assert line == "block_storage volume v1: HTTP 500: cinder fell over; retry 3/7 in 4 s"


def test_a_short_wait_keeps_its_tenth() -> None:
    assert retry_line(volume_step(), 1, "Conflict: HTTP 409: in-use", 0.25, attempts=8).endswith(
        "Conflict: HTTP 409: in-use; retry 1/7 in 0.2 s"
    )


def test_the_executor_s_retries_reach_stderr_as_they_happen() -> None:
    step = volume_step()
    plan = plan_of(step)
    stream = io.StringIO()
    runner = Script({step.id: lambda n: Transient("HTTP 503: busy") if n < 3 else Result.DONE})
    watcher = Progress(plan, stream, attempts=FAST.retry_attempts)
    Executor(runner, limits=FAST, observer=watcher, sleep=lambda s: None).execute(plan)
    lines = stream.getvalue().splitlines()
    retries = [line for line in lines if "retry" in line]
    assert [line.split("; ")[-1].split(" in ")[0] for line in retries] == ["retry 1/3", "retry 2/3"]
    assert all(line.startswith("block_storage volume v1: HTTP 503: busy;") for line in retries)
    assert lines[-1].startswith("1/1 steps")


def test_discovery_reports_each_listing_as_it_ends_and_nothing_when_unwatched() -> None:
    stream = io.StringIO()
    watcher = Discovery(stream, "sweep")
    calls = {"servers": lambda: [1, 2], "volumes": lambda: []}
    with progress.watched(watcher):
        assert gather(calls) == {"servers": [1, 2], "volumes": []}
    assert sorted(stream.getvalue().splitlines()) == [
        "sweep: listed servers: 2",
        "sweep: listed volumes: 0",
    ]
    gather(calls)  # nobody watching: nothing said, nothing raised
    assert len(stream.getvalue().splitlines()) == 2


class _App:
    def __init__(self, verbose_level: int) -> None:
        self.stderr = io.StringIO()
        self.options = type("Options", (), {"verbose_level": verbose_level})()


def test_discovery_is_silent_with_q() -> None:
    quiet, normal = _App(0), _App(1)
    for app in (quiet, normal):
        with discovery(app):
            progress.report("compute: 3 found")
    assert quiet.stderr.getvalue() == ""
    assert normal.stderr.getvalue() == "discovery: compute: 3 found\n"


def test_apply_with_q_shows_neither_the_bar_nor_the_retries() -> None:
    """``reaper apply -q`` (and ``openstack -q reaper apply``): the report, not the chatter."""
    step = volume_step()
    plan = plan_of(step)
    for verbose_level in (0, 1):
        script = {step.id: lambda n: Transient("HTTP 500: cinder") if n < 3 else Result.DONE}
        runner = Script(script)
        app = _App(verbose_level)
        command = ApplyCommand(app, None)
        shown = command._progress(plan, Settings(limits=FAST))
        Executor(runner, limits=FAST, observer=shown, sleep=lambda s: None).execute(plan)
        said = app.stderr.getvalue()
        if verbose_level:
            assert "retry 1/3" in said and "1/1 steps" in said
        else:
            assert said == ""


class _Asks(Command):
    """Answers whether the command sees the operator's -q (as apply, plan and sweep ask)."""

    def take_action(self, parsed_args: Any) -> bool:
        return quiet(self.app)


def test_openstack_s_q_reaches_reaper_s_commands() -> None:
    for verbose_level, expected in ((0, True), (1, False)):
        client = ReaperClient(None, config_files=[])
        shell = SimpleNamespace(
            client_manager=SimpleNamespace(reaper=client),
            options=SimpleNamespace(verbose_level=verbose_level, debug=False),
            stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
        command = _on_osc(_Asks)(shell, None)
        assert command.take_action(SimpleNamespace()) is expected
