"""``reaper apply`` against a real cloud: it runs exactly the plan shown, and cleans up.

Four tenants are built in parallel at the start and deleted in Keystone as
each part needs them: one reaped cleanly (after a dry run, an edited plan
and a held plan were refused on it), one reaped through a cloud that
answers a fifth of all requests with a fault, one whose servers a policy
quarantines, and a small one whose image deletion fails for good. A live
tenant, shared with the other modules, must come out of all of it exactly
as it went in. Every ``reaper`` command goes through the fault proxy, so
the services' side of each run is on record.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import json
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy

from reaper import sealing
from reaper.actions.quarantine import QUARANTINE_TAG
from reaper.audit import plansig
from reaper.model import (
    IdentityKind,
    IdentityRef,
    Plan,
    ResourceRef,
    Step,
    Trigger,
    TriggerSource,
)
from tests.faultproxy import KINDS, FaultProxy, Faults, Rule, Seen
from tests.functional.reaping import (
    Operator,
    Run,
    TenantFarm,
    load_plan,
    step_of,
)
from tests.testbed.holdings import holdings, leftovers
from tests.testbed.tenant import Tenant, TenantSpec, delete_identity

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

#: Quotas the doomed tenant gets, so that "back to defaults" means something.
RAISED = {"instances": 17, "volumes": 17, "floatingip": 17}
#: A fifth of all requests, mutations and reads alike, token requests included; and, so
#: that every run meets both, the answer to the first server deletion is lost and the
#: first volume deletion's connection is reset before Cinder sees it.
FAULTS = Faults(
    rate=0.2,
    kinds=KINDS,
    tokens=True,
    seed=20261126,
    rules=(
        Rule("DELETE", r"/servers/[^/]+$", fault="lost-reset", times=1),
        Rule("DELETE", r"/volumes/[^/]+$", fault="reset", times=1),
    ),
)
QUARANTINE_POLICY = """\
version: 1
policies:
  - name: quarantine-servers
    description: Contain the servers of a deleted project; keep everything else as it is.
    triggers: [identity.project.deleted]
    resources: [compute.server]
    filters:
      - {key: reaper_relation, value: owner}
    actions:
      - {type: quarantine, reason: "project deleted; held for investigation"}
"""
QUARANTINE_SPEC = TenantSpec(
    servers=1,
    volumes=1,
    attached_volumes=1,
    snapshots=0,
    floating_ips=1,
    ports=0,
    images=0,
    keypairs=0,
    security_groups=0,
)
#: A network, subnet, router (gateway and interface) and an image: no server to wait for.
SMALL_SPEC = TenantSpec(
    servers=0,
    volumes=0,
    attached_volumes=0,
    snapshots=0,
    floating_ips=0,
    ports=0,
    images=1,
    keypairs=0,
    security_groups=0,
)
SUCCESSFUL = {"done", "already_gone"}
#: A password in the doomed tenant's cloud-init: nothing reaper keeps may hold it.
SECRET = "S3cr3t-reaper-functional-7f3e9a"
CLOUD_INIT = f"#cloud-config\nchpasswd:\n  list: |\n    root:{SECRET}\n"
#: What Nova keeps and answers with: the cloud-init, base64.
USER_DATA = base64.b64encode(CLOUD_INIT.encode()).decode("ascii")
#: What this module builds (the session builds every module's tenants at once).
TENANTS = {
    "apply-doomed": TenantSpec(user_data=CLOUD_INIT),
    "apply-faulted": TenantSpec(),
    "apply-quarantine": QUARANTINE_SPEC,
    "apply-small": SMALL_SPEC,
}


@pytest.fixture(scope="module")
def building(tenant_farm: TenantFarm) -> dict[str, Future[Tenant]]:
    """Every tenant of this module, building in parallel from the first test on."""
    return {
        "doomed": tenant_farm.order("apply-doomed", TENANTS["apply-doomed"]),
        "faulted": tenant_farm.order("apply-faulted", TENANTS["apply-faulted"]),
        "quarantined": tenant_farm.order("apply-quarantine", TENANTS["apply-quarantine"]),
        "small": tenant_farm.order("apply-small", TENANTS["apply-small"]),
        "live": tenant_farm.live(),
    }


@dataclasses.dataclass
class Live:
    """The live tenant, and what it held before this module's first apply."""

    tenant: Tenant
    before: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def live(building: dict[str, Future[Tenant]], testbed_admin: Connection) -> Live:
    tenant = building["live"].result()
    return Live(tenant, holdings(testbed_admin, tenant.project_id))


@pytest.fixture(scope="module")
def operator(
    testbed: Testbed, fault_proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> Operator:
    """``reaper`` with a store of this module's own; retries wait at most 4 s."""
    return Operator(
        tmp_path_factory.mktemp("apply"), fault_proxy, testbed, executor={"retry_max_wait": 4}
    )


@dataclasses.dataclass
class Deleted:
    """A tenant deleted in Keystone, and the plan ``reaper plan`` saved for it."""

    tenant: Tenant
    plan_file: Path

    @property
    def project_id(self) -> str:
        return self.tenant.project_id


def delete_and_plan(
    admin: Connection, operator: Operator, tenant: Tenant, name: str, policy: Path | None = None
) -> Deleted:
    delete_identity(admin, tenant)
    run, path = operator.plan("project", tenant.project_id, policy=policy, name=name)
    assert run.code == 0, run
    return Deleted(tenant, path)


def statuses(run: Run) -> dict[tuple[str, str], str]:
    """Step status by (resource type, id), from ``apply -f json``."""
    return {(f"{row['Service']}.{row['Type']}", row["ID"]): row["Status"] for row in run.json()}


def mutations_touching(seen: list[Seen], ids: set[str]) -> list[Seen]:
    return [s for s in seen if s.mutating and not s.token_request and any(i in s.path for i in ids)]


def ids_of(held: dict[str, dict[str, str]]) -> set[str]:
    return {i for items in held.values() for i in items}


# -- a clean reap, and what apply refuses before it ---------------------------------------


def nova_quota_overrides(testbed: Testbed, project_id: str) -> dict[str, int]:
    """The project's quota overrides in Nova's API database.

    Nova answers 400 to any quota request for a project Keystone no longer
    knows, so its own database is the only witness left.
    """
    engine = sqlalchemy.create_engine(testbed.state.database_url("nova_api"))
    try:
        with engine.connect() as db:
            rows = db.execute(
                sqlalchemy.text("SELECT resource, hard_limit FROM quotas WHERE project_id = :p"),
                {"p": project_id},
            ).all()
    finally:
        engine.dispose()
    return {resource: limit for resource, limit in rows}


@pytest.fixture(scope="module")
def doomed(
    building: dict[str, Future[Tenant]],
    testbed: Testbed,
    testbed_admin: Connection,
    operator: Operator,
    live: Live,  # what the live tenant holds is recorded before anything is applied
) -> Deleted:
    tenant = building["doomed"].result()
    pid = tenant.project_id
    testbed_admin.set_compute_quotas(pid, instances=RAISED["instances"])
    testbed_admin.set_volume_quotas(pid, volumes=RAISED["volumes"])
    testbed_admin.set_network_quotas(pid, floatingip=RAISED["floatingip"])
    deleted = delete_and_plan(testbed_admin, operator, tenant, "doomed")
    assert nova_quota_overrides(testbed, pid) == {"instances": RAISED["instances"]}
    assert testbed_admin.block_storage.get_quota_set(pid).volumes == RAISED["volumes"]
    assert testbed_admin.network.get_quota(pid).floating_ips == RAISED["floatingip"]
    return deleted


def test_a_dry_run_goes_through_the_executor_and_changes_nothing(
    doomed: Deleted, operator: Operator, fault_proxy: FaultProxy, testbed_admin: Connection
) -> None:
    before = holdings(testbed_admin, doomed.project_id)
    fault_proxy.clear()

    run = operator("apply", str(doomed.plan_file), "--dry-run", "-f", "json")

    plan = load_plan(doomed.plan_file)
    assert run.code == 0, run
    assert fault_proxy.mutations() == []
    assert len(run.json()) == len(plan.steps)
    for row in run.json():
        assert row["Status"] == "skipped", row
        assert row["Reason"].startswith("dry-run: would "), row
    assert holdings(testbed_admin, doomed.project_id) == before
    # The table an operator confirms lists every step before the first one runs.
    shown = run.err.split("dry-run of plan")[0]
    for step in plan.steps:
        assert step.resource.id in shown, step


def test_plan_dash_o_writes_only_the_plan_to_stdout(
    doomed: Deleted, operator: Operator, tmp_path: Path
) -> None:
    """`reaper plan ... -o - > p.json && reaper apply p.json`: the table goes to stderr."""
    run = operator("plan", "--project", doomed.project_id, "-o", "-")

    assert run.code == 0, run
    plan = Plan.from_dict(json.loads(run.out))
    assert plan.identity.id == doomed.project_id
    assert "Plan " in run.err and plan.steps[0].resource.id in run.err


def test_a_plan_edited_after_it_was_shown_is_refused_and_nothing_is_touched(
    doomed: Deleted, live: Live, operator: Operator, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    """The edit points a step at the live tenant's server; the content hash gives it away."""
    server = doomed.tenant.server_ids[0]
    edited = tmp_path / "edited.json"
    edited.write_text(doomed.plan_file.read_text().replace(server, live.tenant.server_ids[0]))
    fault_proxy.clear()

    run = operator("apply", str(edited), "--yes")

    assert run.code == 4, run
    assert "edited after it was shown" in run.err
    assert fault_proxy.mutations() == []


def forged_quota_plan(deleted: Deleted, project_id: str, path: Path, *, signed: bool) -> Path:
    """The deleted tenant's plan cut to one quota step for ``project_id``, rehashed.

    What someone who can write the plan file does: the hash is right, and the
    signature (kept when ``signed``) is the one ``reaper plan`` made.
    """
    data = json.loads(deleted.plan_file.read_text())
    shown = Plan.from_dict(data)
    quota = ResourceRef("compute.quota", project_id)
    forged = dataclasses.replace(
        shown,
        resources=(),
        decisions=(),
        steps=(Step(f"delete:{quota.type}:{quota.id}", "delete", quota),),
    ).to_dict()
    if signed:
        forged[plansig.FIELD] = data[plansig.FIELD]
    path.write_text(json.dumps(forged))
    return path


def test_an_edited_plan_with_a_recomputed_hash_is_refused_by_its_signature(
    doomed: Deleted, live: Live, operator: Operator, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    forged = forged_quota_plan(doomed, live.tenant.project_id, tmp_path / "f.json", signed=True)
    fault_proxy.clear()

    run = operator("apply", str(forged), "--yes")

    assert run.code == 4, run
    assert "refused: the plan's signature does not verify" in run.err
    assert fault_proxy.mutations() == []


def test_an_unsigned_plan_is_refused_while_the_audit_key_is_configured(
    doomed: Deleted, live: Live, operator: Operator, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    forged = forged_quota_plan(doomed, live.tenant.project_id, tmp_path / "u.json", signed=False)
    fault_proxy.clear()

    run = operator("apply", str(forged), "--yes")

    assert run.code == 4, run
    assert "--allow-unsigned" in run.err
    assert fault_proxy.mutations() == []


def test_a_quota_step_naming_a_live_project_never_runs_even_when_let_through(
    doomed: Deleted, live: Live, operator: Operator, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    """Past the signature (``--allow-unsigned``), the fresh re-check still stops it."""
    forged = forged_quota_plan(doomed, live.tenant.project_id, tmp_path / "q.json", signed=False)
    fault_proxy.clear()

    run = operator("apply", str(forged), "--yes", "--allow-unsigned", "-f", "json")

    assert [row["Status"] for row in run.json()] == ["skipped"], run
    assert mutations_touching(fault_proxy.seen(), {live.tenant.project_id}) == []
    assert fault_proxy.mutations() == []


def test_a_plan_beyond_the_blast_radius_is_held_by_plan_and_by_apply(
    doomed: Deleted, operator: Operator, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"
    tight = tmp_path / "tight.yaml"
    tight.write_text(shipped.read_text().replace("max_resources: 500", "max_resources: 2"))
    fault_proxy.clear()

    planned, path = operator.plan("project", doomed.project_id, policy=tight, name="held")
    applied = operator("apply", str(path), "--yes", "--policy", str(tight))

    assert planned.code == 3, planned
    assert load_plan(path).held
    assert applied.code == 3, applied
    assert "held for approval" in applied.err
    assert fault_proxy.mutations() == []


def test_a_plan_whose_every_step_waits_for_its_grace_period_exits_6_and_touches_nothing(
    doomed: Deleted, operator: Operator, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"
    graced = tmp_path / "graced.yaml"
    graced.write_text(
        shipped.read_text().replace("      - delete\n", "      - {type: delete, after: 7d}\n")
    )
    fault_proxy.clear()

    planned, path = operator.plan("project", doomed.project_id, policy=graced, name="graced")
    applied = operator("apply", str(path), "--yes", "--policy", str(graced), "-f", "json")

    assert planned.code == 0, planned
    assert applied.code == 6, applied
    assert set(statuses(applied).values()) == {"deferred"}, applied
    assert fault_proxy.mutations() == []


def test_apply_is_refused_while_a_controller_holds_the_tombstone(
    doomed: Deleted, operator: Operator, fault_proxy: FaultProxy
) -> None:
    identity = IdentityRef(IdentityKind.PROJECT, doomed.project_id)
    with operator.store() as store:
        store.tombstones.record_trigger(identity, Trigger(TriggerSource.CLI))
        held = store.tombstones.claim_next("controller-1:4242:feedbeef")
        assert held is not None
        fault_proxy.clear()
        try:
            run = operator("apply", str(doomed.plan_file), "--yes")
        finally:
            store.tombstones.release(held.id, "controller-1:4242:feedbeef")

    assert run.code == 4, run
    refusal = [line for line in run.err.splitlines() if "refused" in line]
    assert len(refusal) == 1 and "claimed by controller-1:4242:feedbeef" in refusal[0], run
    assert fault_proxy.mutations() == []


@pytest.fixture(scope="module")
def reaped(
    doomed: Deleted, operator: Operator, fault_proxy: FaultProxy, tenant_farm: TenantFarm
) -> tuple[Run, list[Seen]]:
    """The real ``apply`` of the doomed tenant's plan, and what the services saw of it."""
    fault_proxy.clear()
    run = operator("apply", str(doomed.plan_file), "--yes", "-f", "json")
    if run.code == 0:
        tenant_farm.reaped(doomed.tenant)
    return run, fault_proxy.seen()


def test_apply_yes_shows_every_step_on_stderr_before_it_acts(
    doomed: Deleted, reaped: tuple[Run, list[Seen]]
) -> None:
    run, _ = reaped
    shown = run.err.split("applying plan")[0]
    for step in load_plan(doomed.plan_file).steps:
        assert step.resource.id in shown, step


def test_apply_removes_everything_the_deleted_project_owned(
    doomed: Deleted, reaped: tuple[Run, list[Seen]], testbed_admin: Connection
) -> None:
    run, _ = reaped

    assert run.code == 0, run
    assert set(statuses(run).values()) <= SUCCESSFUL, run
    assert leftovers(testbed_admin, doomed.project_id) == {}


def test_the_router_interface_is_removed_at_its_first_request(
    reaped: tuple[Run, list[Seen]],
) -> None:
    """The interface waits for its address's port, not the address's release (planner.steps).

    Neutron refuses an interface only while an address routed through it is
    associated: with the server gone, its port is, and the first request must
    do. A refusal (409 RouterInterfaceInUseByFloatingIP) would be retried and
    end done, so the answers are what show the order is enough.
    """
    _, seen = reaped
    removals = [s for s in seen if s.method == "PUT" and "remove_router_interface" in s.path]

    assert [s.status for s in removals] == [200]


def test_apply_releases_the_quotas_to_the_defaults(
    doomed: Deleted, reaped: tuple[Run, list[Seen]], testbed_admin: Connection, testbed: Testbed
) -> None:
    """Cinder and Neutron show a deleted project's quotas; Nova refuses, so its database says."""
    pid = doomed.project_id
    cinder = testbed_admin.block_storage.get_quota_set(pid)
    cinder_defaults = testbed_admin.block_storage.get_quota_set_defaults(pid)
    neutron = testbed_admin.network.get_quota(pid)
    neutron_defaults = testbed_admin.network.get_quota_default(pid)

    assert quota_values(cinder) == quota_values(cinder_defaults)
    assert quota_values(neutron) == quota_values(neutron_defaults)
    assert nova_quota_overrides(testbed, pid) == {}


def quota_values(quota: Any) -> dict[str, Any]:
    ignored = {"id", "name", "location", "project_id", "tenant_id", "usage", "reservation"}
    return {k: v for k, v in quota.to_dict(computed=False).items() if k not in ignored}


def test_apply_never_sends_a_mutation_for_a_live_tenants_resources(
    reaped: tuple[Run, list[Seen]], live: Live
) -> None:
    _, seen = reaped

    assert mutations_touching(seen, ids_of(live.before) | {live.tenant.project_id}) == []


def test_the_user_data_secret_is_in_no_plan_store_or_exported_bundle(
    doomed: Deleted, reaped: tuple[Run, list[Seen]], operator: Operator, tmp_path: Path
) -> None:
    """Plan file, store database and audit bundle keep the hash of the user data, never it."""
    bundle = tmp_path / "bundle"
    exported = operator("audit", "export", "--out", str(bundle))
    kept = {
        "plan file": doomed.plan_file.read_bytes(),
        # The database and its write-ahead log, whatever is not yet checkpointed.
        **{p.name: p.read_bytes() for p in (operator.home / "state").glob("reaper.sqlite*")},
        **{f"bundle {p.name}": p.read_bytes() for p in bundle.iterdir() if p.is_file()},
    }

    assert exported.code == 0, exported
    assert reaped[0].code == 0, reaped[0]
    for where, data in kept.items():
        assert SECRET.encode() not in data, where
        assert USER_DATA.encode() not in data, where
    # Nova did answer with the user data: what was kept is its hash, for evidence.
    assert sealing.fingerprint(USER_DATA).encode() in kept["plan file"]
    assert sealing.fingerprint(USER_DATA).encode() in kept["bundle records.jsonl"]


# -- a cloud that fails a fifth of all requests ---------------------------------------------


@dataclasses.dataclass
class FaultedRun:
    deleted: Deleted
    run: Run
    seen: list[Seen]
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def faulted(
    building: dict[str, Future[Tenant]],
    testbed_admin: Connection,
    operator: Operator,
    fault_proxy: FaultProxy,
    tenant_farm: TenantFarm,
) -> FaultedRun:
    deleted = delete_and_plan(testbed_admin, operator, building["faulted"].result(), "faulted")
    with fault_proxy.faulting(FAULTS):
        fault_proxy.clear()
        run = operator("apply", str(deleted.plan_file), "--yes", "-f", "json")
        seen = fault_proxy.seen()
    if run.code == 0:
        tenant_farm.reaped(deleted.tenant)
    return FaultedRun(deleted, run, seen, operator.audit_records())


def test_apply_through_a_faulty_cloud_still_removes_everything(
    faulted: FaultedRun, testbed_admin: Connection
) -> None:
    faults = collections.Counter(s.fault for s in faulted.seen if s.fault)

    assert faulted.run.code == 0, faulted.run
    assert set(statuses(faulted.run).values()) <= SUCCESSFUL, faulted.run
    assert leftovers(testbed_admin, faulted.deleted.project_id) == {}
    assert {"lost-reset", "reset"} <= {s.fault for s in faulted.seen if s.mutating}
    assert any(s.method == "GET" and s.fault for s in faulted.seen), "no read was faulted"
    assert sum(faults.values()) >= 5, faults


def test_every_fault_that_hit_a_mutation_is_audited_as_a_retry(faulted: FaultedRun) -> None:
    plan = load_plan(faulted.deleted.plan_file)
    hit = [s for s in faulted.seen if s.mutating and s.fault and not s.token_request]
    faults_per_step = collections.Counter(step_of(plan, s) for s in hit)
    retries_per_step = collections.Counter(
        r["reaper"]["step_id"]
        for r in faulted.records
        if r["outcome"] == "failure"
        and "retrying" in r["reason"]["reasonCode"]
        and r["reaper"].get("plan", {}).get("hash") == plan.content_hash
    )

    assert hit, "no mutation was faulted"
    assert None not in faults_per_step, [s.path for s in hit if step_of(plan, s) is None]
    for step, faults in faults_per_step.items():
        assert retries_per_step[step] >= faults, (step, faults, retries_per_step[step])


def test_the_trail_of_a_faulted_apply_verifies(faulted: FaultedRun, operator: Operator) -> None:
    verify = operator("audit", "verify")

    assert verify.code == 0, verify


# -- quarantine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quarantined(
    building: dict[str, Future[Tenant]],
    testbed_admin: Connection,
    operator: Operator,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Tenant, Run]:
    policy = tmp_path_factory.mktemp("quarantine") / "quarantine.yaml"
    policy.write_text(QUARANTINE_POLICY)
    tenant = building["quarantined"].result()
    deleted = delete_and_plan(testbed_admin, operator, tenant, "quarantine", policy=policy)
    run = operator("apply", str(deleted.plan_file), "--yes", "--policy", str(policy), "-f", "json")
    return tenant, run


def test_quarantine_stops_locks_and_isolates_servers_and_leaves_volumes_alone(
    quarantined: tuple[Tenant, Run], testbed_admin: Connection
) -> None:
    tenant, run = quarantined
    (server_id,) = tenant.server_ids
    server = testbed_admin.compute.get_server(server_id)
    (fip_id,) = tenant.floating_ip_ids
    (volume_id,) = tenant.volume_ids
    volume = testbed_admin.block_storage.get_volume(volume_id)

    assert run.code == 0, run
    assert statuses(run) == {("compute.server", server_id): "done"}
    assert server.status == "SHUTOFF"
    assert server.is_locked
    assert QUARANTINE_TAG in (server.tags or [])
    assert testbed_admin.network.get_ip(fip_id).port_id is None
    assert volume.status == "in-use"
    assert [a["server_id"] for a in volume.attachments] == [server_id]
    assert testbed_admin.network.get_network(tenant.network_id) is not None


# -- exit codes --------------------------------------------------------------------------------


def test_a_step_that_fails_for_good_exits_2_and_a_second_apply_finishes_the_rest(
    building: dict[str, Future[Tenant]],
    testbed_admin: Connection,
    operator: Operator,
    fault_proxy: FaultProxy,
    tenant_farm: TenantFarm,
) -> None:
    """Glance refuses the image deletion (403) once; the rerun runs only what is left."""
    tenant = building["small"].result()
    deleted = delete_and_plan(testbed_admin, operator, tenant, "small")
    (image,) = tenant.image_ids
    refuse = Faults(rules=(Rule("DELETE", r"/v2/images/", status=403, message="forbidden"),))

    with fault_proxy.faulting(refuse):
        first = operator("apply", str(deleted.plan_file), "--yes", "-f", "json")
    fault_proxy.clear()
    second = operator("apply", str(deleted.plan_file), "--yes", "-f", "json")
    rerun = fault_proxy.mutations()

    done_first = {rid for (_, rid), status in statuses(first).items() if status in SUCCESSFUL}
    quotas = {s for (rtype, _), s in statuses(first).items() if rtype.endswith(".quota")}
    assert first.code == 2, first
    assert statuses(first)[("image.image", image)] == "failed"
    assert quotas == {"blocked"}
    assert {tenant.router_id, tenant.subnet_id, tenant.network_id} <= done_first
    assert second.code == 0, second
    assert set(statuses(second).values()) <= SUCCESSFUL
    assert mutations_touching(rerun, done_first) == []
    assert any(image in s.path for s in rerun)
    assert leftovers(testbed_admin, tenant.project_id) == {}
    tenant_farm.reaped(tenant)


# -- and the tenant that stayed ----------------------------------------------------------------


def test_the_live_tenant_comes_out_exactly_as_it_went_in(
    live: Live, testbed_admin: Connection
) -> None:
    """Same resources by kind; servers and volumes in the same state."""
    after = holdings(testbed_admin, live.tenant.project_id)

    assert {kind: set(items) for kind, items in after.items()} == {
        kind: set(items) for kind, items in live.before.items()
    }
    assert after["servers"] == live.before["servers"]
    assert after["volumes"] == live.before["volumes"]
