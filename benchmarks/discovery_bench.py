"""Discovery: requests grow with resource types and pages, not with resources.

``python -m benchmarks.discovery_bench [--scale 1.0] [--workdir DIR] [--keep]``
(``REAPER_TESTBED_RUN_DIR`` attaches to a running testbed; otherwise one is
brought up and down).

Two tenants are built in parallel: a *tiny* one (``TenantSpec()``'s
defaults: a server, two volumes, a snapshot, a floating IP, a port, an
image, a security group, a network with its subnet and router) and a
*large* one of about 1,000 cheap resources (at ``--scale 1``: 300 ports,
100 networks with a subnet each, 100 security groups, 200 volumes, 100
snapshots, 50 floating IPs, 50 images; quotas raised as admin). Then
reaper's discovery (``reaper.inventory.discover.discover``, what ``reaper
plan`` and the controller run) lists each tenant through the fault proxy,
twice: *cold*, on a new ``reaper.cloud.connect`` connection (token and
version discovery included, as a ``reaper plan`` does), and *warm*, again
on the same connection (what the re-check before ``apply``'s first step
costs). Requests are counted by reaper's own counter and, from the
services' side, by the proxy, which also tells first pages from further
pages (a ``marker`` in the query).

Page sizes, with the testbed's (default) settings:

* Nova: ``[api] max_limit`` = 1000 servers or server groups per answer;
* Cinder: ``[DEFAULT] osapi_max_limit`` = 1000 volumes, snapshots or backups;
* Neutron: no pagination unless the client asks for it (``limit``) and
  ``pagination_max_limit`` allows it; openstacksdk does not ask, so every
  listing is one answer, whatever its length;
* Glance: ``limit_param_default`` = 25 images per answer (up to
  ``api_limit_max`` = 1000 when asked), followed by ``next`` links, and
  one more request that returns the last, partial page.

So a listing costs ``1 + floor(n / page)`` requests, and only Glance's
small page makes the image listings of a 50-image tenant cost more than one.
Target: the large tenant's discovery issues the tiny one's requests plus
its extra pages, nothing per resource.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import json
import re
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from benchmarks.support import (
    ReaperHome,
    log,
    machine_load,
    open_testbed,
    reap_project,
)
from tests.faultproxy import FaultProxy, Seen, upstreams_of
from tests.testbed.tenant import Tenant, TenantSpec, build_tenant

if TYPE_CHECKING:
    from openstack.connection import Connection

#: The services' root documents: requests keystoneauth makes to find an API version.
_VERSION_PATHS = re.compile(r"^/(v[0-9.]+/?)?$")


@dataclasses.dataclass(frozen=True)
class Shape:
    """How much of each cheap resource the large tenant gets at ``--scale 1``."""

    ports: int = 300
    networks: int = 100
    security_groups: int = 100
    volumes: int = 200
    snapshots: int = 100
    floating_ips: int = 50
    images: int = 50
    servers: int = 0

    def scaled(self, factor: float) -> Shape:
        return Shape(
            **{
                f.name: max(1, round(getattr(self, f.name) * factor))
                if getattr(self, f.name)
                else 0
                for f in dataclasses.fields(self)
            }
        )

    def spec(self) -> TenantSpec:
        return TenantSpec(
            servers=self.servers,
            volumes=self.volumes,
            attached_volumes=0,
            snapshots=self.snapshots,
            floating_ips=self.floating_ips,
            ports=self.ports,
            images=self.images,
            keypairs=0,
            security_groups=self.security_groups,
            image_bytes=512,
            timeout=1800.0,
        )


@dataclasses.dataclass
class Run:
    """One discovery of one tenant."""

    tenant: str
    label: str
    seconds: float
    resources: Mapping[str, int]
    #: reaper's own counter: service -> requests
    counted: Mapping[str, int]
    #: the proxy's record: service -> kind (token, versions, listings, pages) -> requests
    seen: Mapping[str, Mapping[str, int]]
    incomplete: Sequence[str]

    @property
    def total(self) -> int:
        return sum(self.counted.values())

    def kind_total(self, kind: str) -> int:
        return sum(kinds.get(kind, 0) for kinds in self.seen.values())


def classify(seen: Seen) -> str:
    """token, versions (API version discovery), pages (a further page) or listings."""
    parts = urlsplit(seen.path)
    if seen.token_request:
        return "token"
    if _VERSION_PATHS.match(parts.path):
        return "versions"
    if "marker" in parse_qs(parts.query):
        return "pages"
    return "listings"


def build_networks(tenant: Tenant, count: int, workers: int = 16) -> list[str]:
    """``count`` networks, each with a subnet, as the tenant's user."""
    conn = tenant.connect()

    def one(i: int) -> str:
        network = conn.network.create_network(name=f"{tenant.project_name}-extra{i}")
        conn.network.create_subnet(
            network_id=network.id,
            ip_version=4,
            cidr=f"10.{100 + i // 250}.{i % 250}.0/24",
            name=f"{tenant.project_name}-extra{i}",
        )
        return str(network.id)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(count)))


def build(
    admin: Connection, home: ReaperHome, label: str, shape: Shape | None, retries: int = 2
) -> Tenant:
    """The tiny tenant (``shape`` None) or the large one, with its extra networks.

    A loaded testbed sometimes fails a build (a volume in error, a reset
    upload): what was made is deleted and reaped, and the build starts over.
    """
    spec = shape.spec() if shape else TenantSpec(keypairs=0)
    for attempt in range(retries + 1):
        name = f"bench-discovery-{label}-{secrets.token_hex(3)}"
        started = time.monotonic()
        try:
            tenant = build_tenant(admin, spec, name=name)
            if shape and shape.networks:
                admin.set_network_quotas(
                    tenant.project_id, network=shape.networks + 10, subnet=shape.networks + 10
                )
                build_networks(tenant, shape.networks)
        except Exception as exc:
            log(f"building the {label} tenant failed: {type(exc).__name__}: {exc}")
            project = admin.identity.find_project(name, domain_id="default")
            user = admin.identity.find_user(f"{name}-user", domain_id="default")
            if user is not None:
                admin.identity.delete_user(user.id, ignore_missing=True)
            if project is not None:
                admin.identity.delete_project(project.id, ignore_missing=True)
                log(f"reaping what it left: {reap_project(home, project.id)}")
            if attempt == retries:
                raise
            continue
        log(f"built the {label} tenant {tenant.project_id} in {time.monotonic() - started:.0f}s")
        return tenant
    raise AssertionError("unreachable")


def discover_once(home: ReaperHome, proxy: FaultProxy, project_id: str, conn: Any) -> Run:
    """One discovery of ``project_id`` on ``conn``, counted by reaper and by the proxy."""
    from reaper import cloud
    from reaper.inventory.base import Scope
    from reaper.inventory.discover import discover
    from reaper.model import IdentityKind, IdentityRef

    counter = cloud.counter_of(conn)
    before = counter.by_endpoint()
    proxy.clear()
    started = time.monotonic()
    inventory = discover(conn, Scope.of(IdentityRef(IdentityKind.PROJECT, project_id)))
    seconds = time.monotonic() - started
    netlocs = proxy.netlocs
    counted: collections.Counter[str] = collections.Counter()
    for key, n in counter.by_endpoint().items():
        where = key[1]
        counted[netlocs.get(where, where)] += n - before.get(key, 0)
    seen: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for s in proxy.seen():
        seen[s.service][classify(s)] += 1
    types = collections.Counter(r.type for r in inventory.resources)
    return Run(
        tenant="",
        label="",
        seconds=seconds,
        resources=dict(sorted(types.items())),
        counted={k: v for k, v in sorted(counted.items()) if v},
        seen={k: dict(v) for k, v in sorted(seen.items())},
        incomplete=inventory.incomplete,
    )


def measure(home: ReaperHome, proxy: FaultProxy, name: str, project_id: str) -> list[Run]:
    """Cold (new connection) then warm (same connection) discovery of one tenant."""
    from reaper import cloud

    runs = []
    conn = cloud.connect(home.conf(), read_only=True)
    for label in ("cold", "warm"):
        run = discover_once(home, proxy, project_id, conn)
        run.tenant, run.label = name, label
        runs.append(run)
        log(
            f"{name} {label}: {sum(run.resources.values())} resources, {run.total} requests, "
            f"{run.seconds:.2f} s"
        )
    return runs


def print_report(runs: Sequence[Run]) -> None:
    columns = [f"{r.tenant} {r.label}" for r in runs]
    width = max(16, *(len(c) + 2 for c in columns))
    print()
    print("Discovery through the fault proxy: requests by service (reaper's counter)")
    print(f"{'':<28}" + "".join(f"{c:>{width}}" for c in columns))
    resources = sorted({t for r in runs for t in r.resources})
    for rtype in resources:
        print(f"  {rtype:<26}" + "".join(f"{r.resources.get(rtype, 0):>{width}}" for r in runs))
    print(f"{'resources':<28}" + "".join(f"{sum(r.resources.values()):>{width}}" for r in runs))
    print()
    services = sorted({s for r in runs for s in (*r.counted, *r.seen)})
    for service in services:
        print(f"  {service:<26}" + "".join(f"{r.counted.get(service, 0):>{width}}" for r in runs))
    print(f"{'requests':<28}" + "".join(f"{r.total:>{width}}" for r in runs))
    print(f"{'seconds':<28}" + "".join(f"{r.seconds:>{width}.2f}" for r in runs))
    print()
    print("The same requests as the proxy saw them, by kind:")
    for kind in ("token", "versions", "listings", "pages"):
        print(f"  {kind:<26}" + "".join(f"{r.kind_total(kind):>{width}}" for r in runs))
    for service in services:
        detail = [
            ", ".join(f"{k} {n}" for k, n in sorted(r.seen.get(service, {}).items())) or "-"
            for r in runs
        ]
        print(f"  {service:<26}" + " | ".join(detail))
    print()
    by = {(r.tenant, r.label): r for r in runs}
    for label in ("cold", "warm"):
        tiny, large = by.get(("tiny", label)), by.get(("large", label))
        if not (tiny and large):
            continue
        grown = large.total - tiny.total
        pages = large.kind_total("pages") - tiny.kind_total("pages")
        verdict = "PASS" if grown <= pages else "FAIL"
        print(
            f"{label}: large - tiny = {grown} requests for "
            f"{sum(large.resources.values()) - sum(tiny.resources.values())} more resources; "
            f"{pages} of them further pages (target: no more than the pages): {verdict}"
        )
        for run in (tiny, large):
            if run.incomplete:
                print(f"  {run.tenant}: INCOMPLETE: {'; '.join(run.incomplete)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.discovery_bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="size of the large tenant: 1.0 is about 1,000 resources (0.1 for a quick try)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "reaper-discovery-bench",
        help="tenants built (reused by the next run until reaped) and reaper's home",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the tenants for another run instead of reaping"
    )
    args = parser.parse_args(argv)
    shape = Shape().scaled(args.scale)
    args.workdir.mkdir(parents=True, exist_ok=True)
    state_file = args.workdir / "tenants.json"
    state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {}
    print(f"discovery benchmark: large tenant {shape}; {machine_load()}", flush=True)
    with open_testbed() as testbed:
        admin = testbed.connect()
        with FaultProxy(upstreams_of(admin)) as proxy:
            home = ReaperHome(args.workdir / "reaper", proxy, testbed)
            tenants = load_or_build(admin, home, state, state_file, shape)
            runs: list[Run] = []
            for name in ("tiny", "large"):
                runs += measure(home, proxy, name, tenants[name].project_id)
            print_report(runs)
            print(f"\n{machine_load()}")
            if not args.keep:
                clean_up(admin, home, tenants, state, state_file)
    return 0


def load_or_build(
    admin: Connection, home: ReaperHome, state: dict[str, Any], state_file: Path, shape: Shape
) -> dict[str, Tenant]:
    """The tenants of an earlier ``--keep`` run if the shape is the same, else new ones."""
    tenants: dict[str, Tenant] = {}
    if state.get("shape") == dataclasses.asdict(shape):
        for name in ("tiny", "large"):
            record = state.get(name)
            if record and admin.identity.find_project(record["project_id"]) is not None:
                tenants[name] = Tenant(**record)
                log(f"reusing the {name} tenant {record['project_id']}")
    missing = [n for n in ("tiny", "large") if n not in tenants]
    if missing:
        for name in missing:
            state.pop(name, None)
        state["shape"] = dataclasses.asdict(shape)
        log(f"building {', '.join(missing)} ...")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = {
                n: pool.submit(build, admin, home, n, shape if n == "large" else None)
                for n in missing
            }
            for name, future in futures.items():
                tenants[name] = future.result()
                state[name] = dataclasses.asdict(tenants[name])
                state_file.write_text(json.dumps(state, indent=1))
                state_file.chmod(0o600)
    return tenants


def clean_up(
    admin: Connection,
    home: ReaperHome,
    tenants: Mapping[str, Tenant],
    state: dict[str, Any],
    state_file: Path,
) -> None:
    """Delete the tenants in Keystone and reap them with reaper (untimed)."""
    for name, tenant in tenants.items():
        admin.identity.delete_project(tenant.project_id, ignore_missing=True)
        admin.identity.delete_user(tenant.user_id, ignore_missing=True)
        log(f"reaping the {name} tenant: {reap_project(home, tenant.project_id)}")
        state.pop(name, None)
        state_file.write_text(json.dumps(state, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
