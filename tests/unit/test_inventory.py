"""Inventory handlers: owner filters that are safe to list with; versions asked once."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from reaper.cleanup.plan import make_plan
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.inventory.base import Scope, UnsafeScope
from reaper.inventory.block_storage import BlockStorageInventory
from reaper.inventory.compute import ComputeInventory
from reaper.model import IdentityKind, IdentityRef

SCOPE = Scope.of(IdentityRef(IdentityKind.PROJECT, "p1"))


class Recorder:
    """A service proxy whose every call is recorded; listings return nothing."""

    def __init__(self, *, discovery_fails: bool = False) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.discovery_fails = discovery_fails

    def get_endpoint_data(self) -> None:
        with self.lock:
            self.calls.append("get_endpoint_data")
        if self.discovery_fails:
            raise ConnectionError("version document unreachable")

    def __getattr__(self, name: str) -> Any:
        def listing(*args: Any, **kwargs: Any) -> list[Any]:
            with self.lock:
                self.calls.append(name)
            return []

        return listing


class Conn:
    def __init__(self, **proxies: Recorder) -> None:
        self.__dict__.update(proxies)


@pytest.mark.parametrize(
    ("handler", "attribute"),
    [(BlockStorageInventory, "block_storage"), (ComputeInventory, "compute")],
)
def test_versions_are_asked_once_before_the_parallel_listings(handler, attribute) -> None:
    proxy = Recorder()
    handler().discover(Conn(**{attribute: proxy}), SCOPE)
    assert proxy.calls[0] == "get_endpoint_data"
    assert proxy.calls.count("get_endpoint_data") == 1
    assert len(proxy.calls) > 2  # the listings followed


def test_a_failed_version_question_leaves_the_listings_to_report() -> None:
    proxy = Recorder(discovery_fails=True)
    finding = BlockStorageInventory().discover(Conn(block_storage=proxy), SCOPE)
    assert {"volumes", "snapshots", "backups"} <= set(proxy.calls)
    assert not finding.errors


@pytest.mark.parametrize("bad", ["*", "%", "a%", "p*", "", "a b", "x" * 65])
def test_no_scope_can_carry_an_owner_filter_below_the_id_floor(bad: str) -> None:
    """Whoever supplied the id (a notification, the sweep, the CLI), nothing lists with it."""
    with pytest.raises(UnsafeScope):
        Scope.of(IdentityRef(IdentityKind.PROJECT, bad))
    with pytest.raises(UnsafeScope):
        Scope.of(IdentityRef(IdentityKind.USER, bad))
    with pytest.raises(UnsafeScope):
        Scope(IdentityRef(IdentityKind.DOMAIN, "d" * 32), project_ids=frozenset({"p1", bad}))
    with pytest.raises(UnsafeScope):
        Scope(IdentityRef(IdentityKind.DOMAIN, "d" * 32), user_ids=frozenset({bad}))


def test_a_plan_for_a_wildcard_id_is_refused_before_any_request() -> None:
    asked: list[str] = []

    class Anything:
        def __getattr__(self, name: str) -> Any:
            asked.append(name)
            raise AssertionError(f"the cloud was asked: {name}")

    with pytest.raises(UnsafeScope, match="wildcard"):
        make_plan(
            Cloud.of(Anything()),
            IdentityRef(IdentityKind.PROJECT, "*"),
            policies=None,  # type: ignore[arg-type]
            settings=Settings(),
        )
    assert asked == []


class UserFilteringCinder:
    """Cinder's listings for an admin; ``honours=False``: a Cinder that drops ``user_id``."""

    def __init__(self, items: list[Any], *, honours: bool = True) -> None:
        self.items, self.honours, self.asked = items, honours, []

    def get_endpoint_data(self) -> None:
        return None

    def _answer(self, what: str, query: dict[str, Any]) -> list[Any]:
        """The volumes (no snapshots: a snapshot is listed as a volume is)."""
        self.asked.append((what, query))
        uid = query.get("user_id") if self.honours else None
        listed = self.items if what == "volumes" else []
        return [i for i in listed if uid is None or i.user_id == uid]

    def volumes(self, details: bool, **query: Any) -> list[Any]:
        return self._answer("volumes", query)

    def _list(self, resource: type, base_path: str, **query: Any) -> list[Any]:
        assert resource._query_mapping._mapping["user_id"] == "user_id"
        return self._answer(base_path, query)


def volume(vid: str, user: str) -> Any:
    return SimpleNamespace(id=vid, user_id=user, project_id="p-live", snapshot_id=None)


USER = Scope.of(IdentityRef(IdentityKind.USER, "u-gone"))


def test_a_deleted_users_volumes_and_snapshots_are_listed_by_their_user_not_the_cloud() -> None:
    cinder = UserFilteringCinder([volume("v-1", "u-gone")])
    finding = BlockStorageInventory().discover(Conn(block_storage=cinder), USER)
    assert sorted((what, q.get("user_id"), q.get("all_projects")) for what, q in cinder.asked) == [
        ("/snapshots/detail", "u-gone", True),
        ("volumes", "u-gone", True),
    ]
    assert {r.id for r in finding.resources} == {"v-1"}


def test_a_cinder_that_drops_the_user_filter_costs_a_scan_said_so_never_a_wider_plan() -> None:
    items = [volume("v-1", "u-gone"), volume("v-2", "u-other")]
    cinder = UserFilteringCinder(items, honours=False)
    with capture_logs() as logs:
        finding = BlockStorageInventory().discover(Conn(block_storage=cinder), USER)
    assert {r.id for r in finding.resources if r.type == "block_storage.volume"} == {"v-1"}
    assert finding.mismatches == ()
    [warned] = [e for e in logs if "Cinder ignored the user_id filter" in e["event"]]
    assert (warned["listing"], warned["listed"], warned["of_others"]) == ("volumes", 2, 1)
