"""What a waiting cleanup keeps, for operators: ``tombstone list|show`` and ``release``.

The store, the trail and the commands are real; only the cloud behind
``release`` is a stand-in that records what it was asked.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from reaper import config
from reaper.audit.repository import AuditRepository
from reaper.cli import exitcodes
from reaper.cli.main import ReaperApp
from reaper.model import (
    ActionSpec,
    Decision,
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
from tests.unit.test_cli_plans import PROJECT, Cli

LIVE = "1111" + "0" * 28
USE = {
    "project_id": LIVE,
    "type": "network.port",
    "id": "port-l",
    "detail": "port port-l on server srv-l",
    "kind": "use",
}
KEPT = f"kept: in use by live project {LIVE} (port port-l on server srv-l)"


def waiting_plan() -> Plan:
    attrs = {"in_use_by_live_project": True, "reaper_used_by": [USE], "tags": []}
    net = Resource(
        type="network.network", id="net-v", name="v-net", project_id=PROJECT.id, attributes=attrs
    )
    router = Resource(type="network.router", id="r-v", project_id=PROJECT.id)
    return Plan(
        identity=PROJECT,
        created_at=utcnow(),
        resources=(net, router),
        decisions=(
            Decision(net.ref, Verdict.PROTECT, (), "default", "in use", KEPT),
            Decision(router.ref, Verdict.ACT, (ActionSpec("delete"),), "default", "r", "gone"),
        ),
        steps=(Step("delete:network.router:r-v", "delete", router.ref),),
    )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def waiting(cli: Cli) -> str:
    plan = waiting_plan()
    with cli.store() as store:
        store.plans.save(plan)
        result = store.tombstones.record_trigger(
            PROJECT, Trigger(source=TriggerSource.NOTIFICATION, event_type="x", message_id="m")
        )
        store.tombstones.transition(
            result.tombstone.id,
            TombstoneState.WAITING,
            plan_hash=plan.content_hash,
            reason="waiting: 1 kept",
        )
    return result.tombstone.id


class FakeNetwork:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.calls: list[tuple[str, Any]] = []

    def get_network(self, nid: str) -> Any:
        return SimpleNamespace(id=nid, tags=["theirs"])

    def set_tags(self, resource: Any, tags: list[str]) -> None:
        self.calls.append(("set_tags", tags))

    def update_network(self, nid: str, **changes: Any) -> None:
        self.calls.append(("update_network", changes))
        if self.refuse:
            raise sdk_exc.BadRequestException(
                "Cannot update read-only attribute project_id", details=None
            )


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    network = FakeNetwork()
    identity = SimpleNamespace(get_project=lambda pid: SimpleNamespace(id=pid))
    conn = SimpleNamespace(network=network, identity=identity)
    monkeypatch.setattr(ReaperApp, "connect", lambda self, read_only: conn)
    return conn


def bodies(cli: Cli) -> list[dict[str, Any]]:
    with Store.from_conf(config.make_conf(["--config-file", str(cli.conf_file)])) as store:
        return [json.loads(r.body) for r in AuditRepository(store.db).records()]


def waiting_plan_hash(cli: Cli, tombstone: str) -> str | None:
    with cli.store() as store:
        return store.tombstones.get(tombstone).plan_hash


def state(cli: Cli, tombstone: str) -> TombstoneState:
    with cli.store() as store:
        return store.tombstones.get(tombstone).state


class TestWhatWaits:
    def test_the_list_shows_the_waiting_state(self, cli: Cli, waiting: str) -> None:
        rc, out, _ = cli("tombstone", "list", "--state", "waiting", "-f", "json")
        assert rc == 0
        assert [(t["ID"], t["State"]) for t in json.loads(out)] == [(waiting, "waiting")]

    def test_show_says_what_is_kept_and_for_whom(self, cli: Cli, waiting: str) -> None:
        rc, out, _ = cli("tombstone", "show", waiting, "-f", "json")
        assert rc == 0
        [kept] = json.loads(out)["Waiting For"]
        assert (kept["type"], kept["id"], kept["name"]) == ("network.network", "net-v", "v-net")
        assert kept["projects"] == [LIVE] and kept["used_by"] == [USE]
        rc, out, _ = cli("tombstone", "show", waiting)
        assert "network.network:net-v (v-net): kept: in use by live project" in out

    def test_show_waiting_lists_each_use(self, cli: Cli, waiting: str) -> None:
        rc, out, _ = cli("tombstone", "show", waiting, "--waiting", "-f", "json")
        assert rc == 0
        assert json.loads(out) == [
            {
                "Type": "network.network",
                "ID": "net-v",
                "Name": "v-net",
                "Live Project": LIVE,
                "Used Through": "port port-l on server srv-l",
                "Reason": KEPT,
            }
        ]


class TestRelease:
    def test_forget_tags_it_audits_the_decision_and_plans_again(
        self, cli: Cli, waiting: str, cloud: SimpleNamespace
    ) -> None:
        rc, out, err = cli("release", waiting, "net-v", "--forget", "-f", "json")
        assert rc == 0, err
        shown = json.loads(out)
        assert shown["State"] == "received" and shown["Decision"] == "kept for good"
        assert cloud.network.calls == [("set_tags", ["reaper:keep", "theirs"])]
        assert state(cli, waiting) is TombstoneState.RECEIVED
        released, woken = bodies(cli)[-2:]
        assert released["target"]["id"] == "net-v" and released["outcome"] == "success"
        assert released["reaper"]["extra"]["release"] == "forget"
        assert "released by operator" in released["reason"]["reasonCode"]
        assert woken["reaper"]["extra"]["follows"] == waiting_plan_hash(cli, waiting)

    def test_to_project_asks_the_service_to_change_the_owner(
        self, cli: Cli, waiting: str, cloud: SimpleNamespace
    ) -> None:
        rc, out, err = cli("release", waiting, "net-v", "--to-project", LIVE, "-f", "json")
        assert rc == 0, err
        assert cloud.network.calls == [("update_network", {"project_id": LIVE})]
        assert json.loads(out)["Decision"] == f"handed to project {LIVE}"

    def test_a_service_that_refuses_is_reported_audited_and_nothing_moves(
        self, cli: Cli, waiting: str, cloud: SimpleNamespace
    ) -> None:
        cloud.network.refuse = True
        rc, _, err = cli("release", waiting, "net-v", "--to-project", LIVE)
        assert rc == exitcodes.REFUSED
        assert err.splitlines()[-1].startswith("refused: Neutron refused to change the owner")
        assert "--forget" in err
        assert state(cli, waiting) is TombstoneState.WAITING
        [failed] = bodies(cli)
        assert failed["outcome"] == "failure" and failed["target"]["id"] == "net-v"

    @pytest.mark.parametrize(
        ("argv", "says"),
        [
            (["r-v", "--forget"], "not among what tombstone"),
            (["net-v", "--to-project", "2222" + "0" * 28], "does not use"),
        ],
    )
    def test_only_what_waits_and_only_to_its_users(
        self, cli: Cli, waiting: str, cloud: SimpleNamespace, argv: list[str], says: str
    ) -> None:
        rc, _, err = cli("release", waiting, *argv)
        assert rc == exitcodes.REFUSED and says in err
        assert cloud.network.calls == []
        assert state(cli, waiting) is TombstoneState.WAITING

    def test_a_tombstone_that_does_not_wait_is_refused(
        self, cli: Cli, waiting: str, cloud: SimpleNamespace
    ) -> None:
        with cli.store() as store:
            store.tombstones.transition(waiting, TombstoneState.COMPLETE)
        rc, _, err = cli("release", waiting, "net-v", "--forget")
        assert rc == exitcodes.REFUSED and "not waiting" in err

    def test_it_needs_a_decision(
        self, cli: Cli, waiting: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        rc, _, err = cli("release", waiting, "net-v")
        assert rc != 0 and "--to-project" in err + capsys.readouterr().err
