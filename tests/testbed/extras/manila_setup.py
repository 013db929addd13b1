"""Manila's share type and share group type, made once its API answers (services' venv).

What an operator does after installing Manila: a share type ``default`` (Manila's
``default_share_type``) whose extra specs ask for no share servers (the backends run with
``driver_handles_share_servers = False``), snapshots, and ``readable`` replication, and a
share group type ``default`` over it. Then it waits until the scheduler knows both
backends' pools, so the first share a test creates finds one.

The ids go into the run's ``resources.json`` and state (``share_type``,
``share_group_type``).

Usage: ``python -m tests.testbed.extras.manila_setup <run dir>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import openstack

from tests.testbed.extras.manila import BACKENDS, SHARE_GROUP_TYPE, SHARE_TYPE
from tests.testbed.resources import wait_for
from tests.testbed.state import RunState

#: A microversion every call below understands (share groups are GA from 2.55).
MICROVERSION = "2.65"
HEADERS = {"X-OpenStack-Manila-API-Version": MICROVERSION}
EXTRA_SPECS = {
    "driver_handles_share_servers": "False",
    "snapshot_support": "True",
    "create_share_from_snapshot_support": "True",
    "replication_type": "readable",
}


def _get(conn: Any, path: str) -> dict[str, Any]:
    response = conn.shared_file_system.get(path, headers=HEADERS)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _post(conn: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = conn.shared_file_system.post(path, json=body, headers=HEADERS)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def share_type(conn: Any) -> str:
    for found in _get(conn, "/types")["share_types"]:
        if found["name"] == SHARE_TYPE:
            return str(found["id"])
    body = {
        "share_type": {
            "name": SHARE_TYPE,
            "share_type_access:is_public": True,
            "extra_specs": EXTRA_SPECS,
        }
    }
    return str(_post(conn, "/types", body)["share_type"]["id"])


def share_group_type(conn: Any, type_id: str) -> str:
    for found in _get(conn, "/share-group-types")["share_group_types"]:
        if found["name"] == SHARE_GROUP_TYPE:
            return str(found["id"])
    body = {
        "share_group_type": {
            "name": SHARE_GROUP_TYPE,
            "share_types": [type_id],
            "is_public": True,
        }
    }
    return str(_post(conn, "/share-group-types", body)["share_group_type"]["id"])


def _pools(conn: Any) -> list[Any] | None:
    pools = _get(conn, "/scheduler-stats/pools")["pools"]
    backends = {p["backend"] for p in pools}
    return pools if backends >= {b.upper() for b in BACKENDS} or len(pools) >= 2 else None


def main(argv: list[str]) -> int:
    run_dir = Path(argv[0])
    state = RunState.load(run_dir)
    conn = openstack.connect(cloud=state.cloud_name)
    type_id = share_type(conn)
    group_type_id = share_group_type(conn, type_id)
    wait_for("manila's scheduler to know both backends' pools", lambda: _pools(conn))
    path = run_dir / "resources.json"
    resources = json.loads(path.read_text()) if path.exists() else {}
    resources.update({"share_type": type_id, "share_group_type": group_type_id})
    path.write_text(json.dumps(resources, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
