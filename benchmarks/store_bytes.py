"""B3's bytes per cleaned resource: what one server costs the store, through the real path.

A plan of ``n`` servers, each with the attributes openstacksdk returns for a
Nova server (the before-image; random ids, shared hosts and images, as in a
real project), is recorded as a controller records it:
:func:`reaper.cleanup.record.audit_planned` (the decisions), then the audit
observer's step start and the executor's outcome for each server, the plan
saved. The figure is the growth on disk of every table part this touches
(``audit_records``, ``plans``, ``step_outcomes``: heap, TOAST, each index),
divided by ``n``, in a store that already holds one such cleanup, so the
pages, maps and index roots every table gets once are not counted. Then
where the bytes go: per table part, per record kind, and the plan body.

Run ``python -m benchmarks store --only bytes --resources 500``. On
PostgreSQL 15, 500 servers, the same benchmark on main before
``reaper-audit/2`` gave 7.41 KiB (decision 2.6 KiB stored in two TOAST
chunks, step start 1.5 KiB, outcome 1.6 KiB, plan 0.4 KiB), and 5.90 KiB
after: decision 1.9 KiB compressed (one chunk), step start and outcome
1.2 KiB each, plan 0.26 KiB deflated; 5.79 KiB with the time index a
BRIN index (migration 0009). Sizes move in steps: a compressed
decision over about 2,000 bytes takes a second TOAST chunk (about 0.7 KiB
more), and heap pages hold whole rows. Records' ``seq`` here has 4 digits;
in a store of ten million it has 8 (12 bytes more per resource).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import types
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks.audit_bench import make_trail
from reaper.audit.observer import AuditObserver
from reaper.cleanup.plan import Planned
from reaper.cleanup.record import audit_planned
from reaper.cleanup.verify import IdentityState, Verification
from reaper.model import (
    ActionSpec,
    Decision,
    IdentityKind,
    IdentityRef,
    Outcome,
    OutcomeStatus,
    Plan,
    Resource,
    Step,
    Trigger,
    TriggerSource,
    Verdict,
    utcnow,
)
from reaper.store import Store
from reaper.store.plans import unpack

KIB = 1024
TARGET = 6 * KIB
#: The tables one cleanup grows.
TABLES = ("audit_records", "plans", "step_outcomes")
PROJECT_ID = "0c5d3b7e9a41462f8d2c6b1e0f9a7d35"
WARM_UP_PROJECT_ID = "9a41462f8d2c6b1e0f9a7d350c5d3b7e"
USER_ID = "5e3c8a1f2b9d4e6c7a0b1c2d3e4f5a6b"
IMAGES = ("7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "c0ffee00-1234-4abc-9def-0123456789ab")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def server_attributes(i: int, project_id: str) -> dict[str, Any]:
    """A Nova server as openstacksdk's ``to_dict()`` gives it (microversion 2.79).

    Ids, MAC addresses, times and names vary per server as in a real project
    (random UUIDs, not a counter and a constant tail) and hosts, images and
    flavors are shared by several servers: compression in the store is
    measured on data as repetitive as a real project's, not more.
    """
    rng = random.Random(i)
    sid = _uuid(rng)
    mac = "fa:16:3e:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))
    created = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
        seconds=rng.randrange(30 * 86400)
    )
    host = hashlib.sha224(f"{project_id}compute-{i % 7}".encode()).hexdigest()
    return {
        "id": sid,
        "name": f"{rng.choice(('web', 'db', 'worker', 'cache'))}-{i}",
        "status": "ACTIVE",
        "project_id": project_id,
        "user_id": USER_ID,
        "tenant_id": project_id,
        "created_at": f"{created:%Y-%m-%dT%H:%M:%SZ}",
        "updated_at": f"{created + dt.timedelta(seconds=72):%Y-%m-%dT%H:%M:%SZ}",
        "launched_at": f"{created + dt.timedelta(seconds=70):%Y-%m-%dT%H:%M:%S}.000000",
        "terminated_at": None,
        "host_id": host,
        "hypervisor_hostname": None,
        "compute_host": None,
        "instance_name": None,
        "availability_zone": "nova",
        "power_state": 1,
        "task_state": None,
        "vm_state": "active",
        "progress": 0,
        "locked": False,
        "locked_reason": None,
        "key_name": "ops-key",
        "config_drive": "",
        "disk_config": "MANUAL",
        "access_ipv4": "",
        "access_ipv6": "",
        "has_config_drive": False,
        "is_locked": False,
        "admin_password": None,
        "trusted_image_certificates": None,
        "server_groups": None,
        "description": None,
        "tags": ["team-a", "env-prod"],
        "metadata": {"owner": "team-a", "role": "frontend", "ha": "true"},
        "flavor": {
            "original_name": "m1.small",
            "vcpus": 1,
            "ram": 2048,
            "disk": 20,
            "ephemeral": 0,
            "swap": 0,
            "extra_specs": {"hw:cpu_policy": "shared", "hw_rng:allowed": "True"},
        },
        "image": {"id": IMAGES[i % len(IMAGES)], "links": []},
        "addresses": {
            "private": [
                {
                    "version": 4,
                    "addr": f"10.0.{rng.randrange(256)}.{rng.randrange(2, 255)}",
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": mac,
                },
                {
                    "version": 6,
                    "addr": f"fd00:1234::f816:3eff:fe{mac[9:11]}:{mac[12:14]}{mac[15:17]}",
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": mac,
                },
            ]
        },
        "attached_volumes": [{"id": _uuid(rng)}],
        "security_groups": [{"name": "default"}, {"name": "web"}],
        "links": [
            {"rel": "self", "href": f"https://compute.example.com/v2.1/servers/{sid}"},
            {"rel": "bookmark", "href": f"https://compute.example.com/servers/{sid}"},
        ],
        "fault": None,
        "user_data": None,
        "kernel_id": None,
        "ramdisk_id": None,
        "root_device_name": None,
        "reservation_id": f"r-{rng.getrandbits(32):08x}",
        "launch_index": 0,
        "pinned_availability_zone": None,
        "scheduler_hints": None,
        "block_device_mapping": None,
        "location": {
            "cloud": "prod",
            "region_name": "RegionOne",
            "zone": "nova",
            "project": {"id": project_id, "name": None, "domain_id": None, "domain_name": None},
        },
    }


@dataclass(frozen=True)
class Sizes:
    """The on-disk parts of the tables one cleanup grows, in bytes, by ``table:part``."""

    parts: Mapping[str, int]

    def minus(self, other: Sizes) -> dict[str, int]:
        return {k: v - other.parts.get(k, 0) for k, v in self.parts.items()}


def _sizes(url: str) -> Sizes:
    """Heap (with its free-space and visibility maps), TOAST (with its index), each index."""
    engine = create_engine(url)
    parts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in TABLES:
            toast, heap = conn.execute(
                text(
                    "SELECT coalesce(pg_total_relation_size(nullif(reltoastrelid, 0)), 0), "
                    "pg_table_size(oid) FROM pg_class WHERE oid = CAST(:t AS regclass)"
                ),
                {"t": table},
            ).one()
            parts[f"{table}:heap"] = heap - toast
            parts[f"{table}:TOAST"] = toast
            for name, size in conn.execute(
                text(
                    "SELECT CAST(indexrelid AS regclass)::text, pg_relation_size(indexrelid) "
                    "FROM pg_index WHERE indrelid = CAST(:t AS regclass) ORDER BY 1"
                ),
                {"t": table},
            ):
                parts[f"{table}:{name}"] = size
    engine.dispose()
    return Sizes(parts)


def _kind(body: Mapping[str, Any]) -> str:
    """Which of a cleanup's records this is: decision, step start, step outcome, per plan."""
    ours = body.get("reaper") or {}
    if ours.get("step_id"):
        return "step start" if body.get("outcome") == "pending" else "step outcome"
    if body.get("action") == "evaluate" and ours.get("target_type", "").startswith("identity."):
        return "per plan"
    if body.get("action") == "evaluate":
        return "decision"
    return "per plan"


def _max_seq(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        seq = conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_records")).scalar_one()
    engine.dispose()
    return int(seq)


def _records(url: str, after_seq: int) -> dict[str, list[tuple[int, int, int]]]:
    """Per record kind: (body as text, body as stored, whole row as stored) of each record."""
    engine = create_engine(url)
    kinds: dict[str, list[tuple[int, int, int]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT body, octet_length(body), pg_column_size(body), pg_column_size(r.*) "
                "FROM audit_records r WHERE seq > :after ORDER BY seq"
            ),
            {"after": after_seq},
        )
        for body, raw, stored, row in rows:
            kinds.setdefault(_kind(json.loads(body)), []).append((raw, stored, row))
    engine.dispose()
    return kinds


def _plan_body(url: str) -> tuple[int, int, int]:
    """The measured plan's canonical JSON, its stored text, and that text as PostgreSQL keeps it."""
    engine = create_engine(url)
    with engine.connect() as conn:
        body, stored = conn.execute(
            text("SELECT body, pg_column_size(body) FROM plans WHERE identity_id = :p"),
            {"p": PROJECT_ID},
        ).one()
    engine.dispose()
    return len(unpack(body).encode()), len(body.encode()), int(stored)


def record_cleanup(store: Store, n: int, *, first: int = 0, project_id: str = PROJECT_ID) -> None:
    """One tombstone's plan of ``n`` servers, recorded and run as the controller does."""
    project = IdentityRef(IdentityKind.PROJECT, project_id)
    servers = []
    for i in range(first, first + n):
        attrs = server_attributes(i, project.id)
        servers.append(
            Resource(
                type="compute.server",
                id=attrs["id"],
                name=attrs["name"],
                project_id=project.id,
                status="ACTIVE",
                attributes=attrs,
            )
        )
    plan = Plan(
        identity=project,
        created_at=utcnow(),
        resources=tuple(servers),
        decisions=tuple(
            Decision(s.ref, Verdict.ACT, (ActionSpec("delete"),), "default", "servers", "gone")
            for s in servers
        ),
        steps=tuple(
            Step(f"delete:compute.server:{s.id}", "delete", s.ref, policy="default", reason="gone")
            for s in servers
        ),
    )
    trail = make_trail(store)
    tomb = store.tombstones.record_trigger(project, Trigger(TriggerSource.CLI)).tombstone
    store.plans.save(plan)
    planned = Planned(
        plan,
        Verification(project, IdentityState.GONE),
        types.SimpleNamespace(mismatches=()),  # type: ignore[arg-type]
        "project.deleted",
    )
    audit_planned(trail, planned, tombstone_id=tomb.id)
    observer = AuditObserver(trail, plan, tombstone_id=tomb.id, decisions_recorded=True)
    for server, step in zip(servers, plan.steps, strict=True):
        started = utcnow()
        observer.step_started(step, server)
        # As the executor reports a delete it saw through (reaper.executor.confirm).
        done = Outcome(
            step.id,
            OutcomeStatus.DONE,
            "confirmed gone by listing",
            attempts=1,
            started_at=started,
            finished_at=utcnow(),
        )
        observer.step_finished(step, done, server)


def _per(total: float, n: int) -> str:
    return f"{total / n:,.0f} B"


def run(url: str, n: int) -> list[str]:
    """The figure, then where its bytes go: per table part, per record kind, the plan body."""
    with Store.open(url) as store:
        # A store that already holds a cleanup: what one more costs, without the
        # first pages, maps and index roots every table gets once.
        record_cleanup(store, n, first=n, project_id=WARM_UP_PROJECT_ID)
        before = _sizes(url)
    first_seq = _max_seq(url)
    with Store.open(url) as store:
        record_cleanup(store, n)
    grown = _sizes(url).minus(before)
    total = sum(grown.values())
    lines = [
        f"bytes per cleaned resource ({n} servers, one plan, on disk): "
        f"{total / n / KIB:.2f} KiB (target <= {TARGET / KIB:.0f} KiB)"
    ]
    for table in TABLES:
        parts = {k.split(":", 1)[1]: v for k, v in grown.items() if k.startswith(f"{table}:")}
        lines.append(
            f"  {table} {_per(sum(parts.values()), n)}: "
            + ", ".join(f"{part} {_per(size, n)}" for part, size in parts.items())
        )
    for kind, rows in _records(url, first_seq).items():
        count = len(rows)
        raw, stored, row = (sum(r[i] for r in rows) for i in range(3))
        lines.append(
            f"  {kind}: {count} records, per record body {raw / count:,.0f} B as text, "
            f"{stored / count:,.0f} B stored, row {row / count:,.0f} B; "
            f"per resource {_per(row, n)}"
        )
    json_bytes, text_bytes, stored = _plan_body(url)
    lines.append(
        f"  plan body per resource: canonical JSON {_per(json_bytes, n)}, "
        f"stored text {_per(text_bytes, n)}, as PostgreSQL keeps it {_per(stored, n)}"
    )
    return lines
