"""B3's bytes per cleaned resource: what one server costs the store, through the real path.

A plan of ``n`` servers, each with the attributes openstacksdk returns for a
Nova server (the before-image), is recorded as a controller records it:
:func:`reaper.cleanup.record.audit_planned` (the decisions), then the audit
observer's step start and step outcome for each server, the plan saved. The
figure is the growth of the audit tables (rows, indexes, TOAST) and of the
plan body, divided by ``n``.
"""

from __future__ import annotations

import types
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

KIB = 1024
TARGET = 6 * KIB


def server_attributes(i: int, project_id: str) -> dict[str, Any]:
    """A Nova server as openstacksdk's ``to_dict()`` gives it (microversion 2.79)."""
    sid = f"{i:08x}-1b2c-4d5e-8f90-a1b2c3d4e5f6"
    return {
        "id": sid,
        "name": f"web-{i}",
        "status": "ACTIVE",
        "project_id": project_id,
        "user_id": "5e3c" + "0" * 28,
        "tenant_id": project_id,
        "created_at": "2026-11-30T10:00:00Z",
        "updated_at": "2026-11-30T10:01:12Z",
        "launched_at": "2026-11-30T10:01:10.000000",
        "terminated_at": None,
        "host_id": "b" * 56,
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
        "image": {"id": "7d1c" + "0" * 28, "links": []},
        "addresses": {
            "private": [
                {
                    "version": 4,
                    "addr": f"10.0.{i % 250}.{i % 200 + 2}",
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": f"fa:16:3e:00:{i % 256:02x}:01",
                },
                {
                    "version": 6,
                    "addr": f"fd00:1234::f816:3eff:fe00:{i % 65536:x}",
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": f"fa:16:3e:00:{i % 256:02x}:01",
                },
            ]
        },
        "attached_volumes": [{"id": f"{i:08x}-aaaa-4bbb-8ccc-dddddddddddd"}],
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
        "reservation_id": "r-0a1b2c3d",
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


def _sizes(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_total_relation_size('audit_records'), "
                "(SELECT coalesce(sum(octet_length(body)), 0) FROM audit_records), "
                "(SELECT coalesce(sum(octet_length(body)), 0) FROM plans), "
                "pg_total_relation_size('step_outcomes')"
            )
        ).one()
    engine.dispose()
    return {"table": row[0], "bodies": row[1], "plan": row[2], "outcomes": row[3]}


def record_cleanup(store: Store, n: int) -> None:
    """One tombstone's plan of ``n`` servers, recorded and run as the controller does."""
    project = IdentityRef(IdentityKind.PROJECT, "0c5d" + "0" * 28)
    servers = [
        Resource(
            type="compute.server",
            id=f"{i:08x}-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            name=f"web-{i}",
            project_id=project.id,
            status="ACTIVE",
            attributes=server_attributes(i, project.id),
        )
        for i in range(n)
    ]
    plan = Plan(
        identity=project,
        created_at=utcnow(),
        resources=tuple(servers),
        decisions=tuple(
            Decision(s.ref, Verdict.ACT, (ActionSpec("delete"),), "default", "servers", "gone")
            for s in servers
        ),
        steps=tuple(
            Step(f"delete:compute.server:{s.id}", "delete", s.ref, reason="owner deleted")
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
        observer.step_started(step, server)
        observer.step_finished(step, Outcome(step.id, OutcomeStatus.DONE, "gone"), server)


def run(url: str, n: int) -> list[str]:
    before = _sizes(url)
    with Store.open(url) as store:
        record_cleanup(store, n)
    after = _sizes(url)
    per = {k: (after[k] - before[k]) / n for k in after}
    total = per["table"] + per["plan"] + per["outcomes"]
    return [
        f"bytes per cleaned resource ({n} servers, one plan): audit table {per['table'] / KIB:.1f} "
        f"KiB (record bodies {per['bodies'] / KIB:.1f} KiB), plan body {per['plan'] / KIB:.1f} "
        f"KiB, step outcomes {per['outcomes'] / KIB:.1f} KiB; total {total / KIB:.1f} KiB "
        f"(target <= {TARGET / KIB:.0f} KiB)"
    ]
