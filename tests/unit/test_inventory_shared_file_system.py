"""Manila's inventory: what the edges between a project's shares and their children say."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from reaper.inventory import shared_file_system as sfs
from reaper.inventory.base import Scope
from reaper.model import IdentityKind, IdentityRef, ResourceRef

VICTIM = "p-deleted"
SHARE = {"id": "sh", "project_id": VICTIM, "status": "available", "replication_type": "readable"}
SNAP = {"id": "snap", "share_id": "sh", "project_id": VICTIM, "status": "available"}
RULE = {"id": "rule", "access_to": "10.0.0.0/24", "state": "active", "share_id": "sh"}
REPLICAS = [
    {"id": "sh-own", "share_id": "sh", "replica_state": "active", "status": "available"},
    {"id": "rep", "share_id": "sh", "replica_state": "in_sync", "status": "available"},
]


class Manila:
    """The admin's GETs at the pinned microversion, for one project with one share."""

    def get(self, path: str, headers: Any = None, params: Any = None) -> Any:
        body = {
            "/shares/detail": {"shares": [SHARE]},
            "/snapshots/detail": {"snapshots": [SNAP]},
            "/share-networks/detail": {"share_networks": []},
            "/share-groups/detail": {"share_groups": []},
            "/share-access-rules": {"access_list": [RULE]},
            "/share-replicas/detail": {"share_replicas": REPLICAS},
        }[path]
        return SimpleNamespace(status_code=200, headers={}, json=lambda: body)


def discovered() -> dict[str, Any]:
    scope = Scope.of(IdentityRef(IdentityKind.PROJECT, VICTIM))
    finding = sfs.SharedFileSystemInventory().discover(
        SimpleNamespace(shared_file_system=Manila()), scope
    )
    assert not finding.errors
    return {r.id: r for r in finding.resources}


def test_a_replica_other_than_the_shares_own_instance_is_found_with_the_shares_project() -> None:
    found = discovered()

    assert found["rep"].type == sfs.REPLICA.name and found["rep"].project_id == VICTIM
    assert "sh-own" not in found


def test_a_shares_rules_are_denied_before_its_replicas_go() -> None:
    """Manila refuses to deny a rule while any replica of the share is ``deleting``."""
    found = discovered()

    named = {edge.target for edge in found["rule"].edges}
    assert ResourceRef(sfs.REPLICA.name, "rep") in named
    assert ResourceRef(sfs.SHARE.name, "sh") in named


def test_a_replica_goes_before_its_shares_snapshots() -> None:
    """A snapshot is deletable only when its instance on every replica is ``available``."""
    found = discovered()

    named = {edge.target for edge in found["rep"].edges}
    assert ResourceRef(sfs.SNAPSHOT.name, "snap") in named
