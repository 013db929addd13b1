"""Showing plans: the table before a confirmation, and stored plans exactly as stored."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reaper import config
from reaper.cli.main import ReaperApp
from reaper.cli.planview import step_table
from reaper.model import (
    ActionSpec,
    Decision,
    IdentityKind,
    IdentityRef,
    Plan,
    Resource,
    Step,
    TombstoneState,
    Trigger,
    TriggerSource,
    Verdict,
    utcnow,
)
from reaper.store import Store

PROJECT = IdentityRef(IdentityKind.PROJECT, "0c5d" + "0" * 28)


def a_plan() -> Plan:
    server = Resource(type="compute.server", id="s-1", name="web", project_id=PROJECT.id)
    volume = Resource(type="block_storage.volume", id="v-1", project_id=PROJECT.id)
    return Plan(
        identity=PROJECT,
        created_at=utcnow(),
        resources=(server, volume),
        decisions=(
            Decision(server.ref, Verdict.ACT, (ActionSpec("delete"),), "default", "r1", "gone"),
            Decision(volume.ref, Verdict.ACT, (ActionSpec("delete"),), "default", "r2", "gone"),
        ),
        steps=(
            Step("delete:compute.server:s-1", "delete", server.ref, reason="owner deleted"),
            Step("delete:block_storage.volume:v-1", "delete", volume.ref, reason="orphaned"),
        ),
    )


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.conf_file = tmp_path / "reaper.conf"
        self.state = tmp_path / "state"
        self.conf_file.write_text(f"[DEFAULT]\nstate_path = {self.state}\n")

    def store(self) -> Store:
        return Store.from_conf(config.make_conf(["--config-file", str(self.conf_file)]))

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        app = ReaperApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        rc = app.run(["--config-file", str(self.conf_file), *argv])
        return rc, app.stdout.getvalue(), app.stderr.getvalue()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def held(cli: Cli) -> tuple[str, Plan]:
    """A tombstone held with a stored plan, as a dry-run controller leaves it."""
    plan = a_plan()
    with cli.store() as store:
        store.plans.save(plan)
        result = store.tombstones.record_trigger(
            PROJECT, Trigger(source=TriggerSource.NOTIFICATION, event_type="x", message_id="m")
        )
        store.tombstones.transition(
            result.tombstone.id, TombstoneState.HELD, plan_hash=plan.content_hash
        )
    return result.tombstone.id, plan


def test_the_confirmation_table_says_what_whose_and_why_for_every_step() -> None:
    lines = step_table(a_plan()).splitlines()
    server = next(line for line in lines if "s-1" in line)
    volume = next(line for line in lines if "v-1" in line)
    for cell in ("1", "delete", "compute", "server", "web", PROJECT.id, "owner deleted"):
        assert cell in server
    for cell in ("2", "delete", "block_storage", "volume", PROJECT.id, "orphaned"):
        assert cell in volume
    assert lines.index(server) < lines.index(volume)


def test_plan_show_prints_the_stored_plan(cli: Cli, held: tuple[str, Plan]) -> None:
    _, plan = held
    rc, out, _ = cli("plan", "show", plan.content_hash, "-f", "json")
    assert rc == 0
    assert {row["ID"] for row in json.loads(out)} == {"s-1", "v-1"}


def test_plan_show_dash_o_writes_only_the_plan_apply_takes(cli: Cli, held) -> None:
    _, plan = held
    rc, out, _ = cli("plan", "show", plan.content_hash, "-o", "-")
    assert rc == 0
    assert Plan.from_dict(json.loads(out)).content_hash == plan.content_hash


def test_tombstone_show_plan_is_the_plan_approve_releases(cli: Cli, held) -> None:
    tombstone, plan = held
    rc, out, _ = cli("tombstone", "show", tombstone, "--plan", "-f", "json")
    assert rc == 0
    assert {row["ID"] for row in json.loads(out)} == {"s-1", "v-1"}
    rc, out, _ = cli("tombstone", "show", tombstone)
    assert rc == 0 and plan.content_hash in out


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "show", "f" * 64],
        ["tombstone", "show", "no-such-tombstone"],
        ["tombstone", "show", "no-such-tombstone", "--plan"],
        ["approve", "no-such-tombstone"],
    ],
)
def test_an_unknown_id_exits_1(cli: Cli, held, argv: list[str]) -> None:
    rc, _, err = cli(*argv)
    assert rc == 1, err
    assert err.splitlines()[-1].startswith("error: no ")


@pytest.mark.parametrize(
    "argv", [["tombstone", "list"], ["tombstone", "show", "x"], ["plan", "show", "f" * 64]]
)
def test_a_read_only_command_never_creates_an_empty_store(cli: Cli, argv: list[str]) -> None:
    rc, _, err = cli(*argv)
    assert rc == 1
    assert f"no store at {cli.state}/reaper.sqlite" in err
    assert "state_path" in err
    assert not cli.state.exists()
