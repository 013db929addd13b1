"""Latency: Keystone DELETE -> reaper's first mutating request, on the testbed.

``python -m benchmarks.latency_bench [--tenants 20]`` (``REAPER_TESTBED_RUN_DIR``
attaches to a running testbed; otherwise one is brought up and down).

``reaper-controller`` runs as operators run it, with its clouds.yaml pointed
through the fault proxy (no faults, no added latency), so the first mutating
request of each cleanup is timestamped by the proxy: the services' side,
not reaper's own clock. Tenants of about 50 resources each (servers,
volumes, snapshots, floating IPs, ports, images, security groups, network,
subnet, router, quotas) are built in parallel, then deleted in Keystone one
at a time, each after the previous cleanup finished, so every sample is a
cold start of one cleanup on an idle controller. Target: p50 < 1 s,
p99 < 3 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import tempfile
import time
from pathlib import Path

from reaper.model import IdentityKind, IdentityRef, TombstoneState
from tests.faultproxy import FaultProxy, upstreams_of
from tests.functional.controller_fixtures import ControllerProcess
from tests.functional.reaping import admin_auth
from tests.testbed import Testbed
from tests.testbed.tenant import Tenant, TenantSpec, build_tenant

#: About 50 resources: 4 servers, 8 volumes (3 attached), 4 snapshots, 4 floating
#: IPs, 4 ports, 2 images, 2 security groups (+ default), a keypair, network,
#: subnet, router, interface, quotas.
SPEC = TenantSpec(
    servers=4,
    volumes=8,
    attached_volumes=3,
    snapshots=4,
    floating_ips=4,
    ports=4,
    images=2,
    keypairs=1,
    security_groups=2,
)
SETTLED = {TombstoneState.COMPLETE, TombstoneState.PARTIAL, TombstoneState.REFUSED}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--build-workers", type=int, default=4)
    args = parser.parse_args(argv)

    run_dir = os.environ.get("REAPER_TESTBED_RUN_DIR")
    bed = Testbed.attach(run_dir) if run_dir else Testbed.up()
    workdir = Path(tempfile.mkdtemp(prefix="reaper-latency-"))
    try:
        admin = bed.connect()
        with FaultProxy(upstreams_of(admin)) as proxy:
            clouds = proxy.write_clouds_yaml(
                workdir / "clouds.yaml", "proxied", admin_auth(bed), region_name=bed.region
            )
            conf = workdir / "reaper.conf"
            conf.write_text(
                "[DEFAULT]\n"
                f"transport_url = {bed.transport_url}\n"
                f"state_path = {workdir}\n"
                "dry_run = false\n"
                "[listener]\n"
                "pool = reaper-latency\n"
                "[service_credentials]\n"
                "cloud = proxied\n"
                "[api]\nport = 0\n"
                "[sweep]\nenabled = false\n"
            )
            env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
            env.pop("OS_CLOUD", None)
            controller = ControllerProcess(workdir, conf, env, "reaper-latency").start()
            print(f"building {args.tenants} tenants of ~50 resources ...", flush=True)
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(args.build_workers) as pool:
                tenants: list[Tenant] = list(
                    pool.map(
                        lambda i: build_tenant(admin, SPEC, name=f"lat-{i}-{os.getpid()}"),
                        range(args.tenants),
                    )
                )
            print(f"built in {time.monotonic() - started:.0f}s", flush=True)
            time.sleep(5)  # the controller idles; nothing of the builds is in flight
            samples: list[float] = []
            for tenant in tenants:
                proxy.clear()
                deleted_at = time.monotonic()  # the proxy stamps with the same clock
                admin.identity.delete_project(tenant.project_id)
                done = controller.wait_for(
                    IdentityRef(IdentityKind.PROJECT, tenant.project_id), SETTLED, timeout=600
                )
                first = min(
                    (s.started for s in proxy.seen() if s.mutating and not s.token_request),
                    default=None,
                )
                if first is None:
                    print(f"{tenant.project_id}: no mutation seen ({done.state.value})")
                    continue
                latency = first - deleted_at
                samples.append(latency)
                print(
                    f"{tenant.project_id}: first mutation after {latency * 1000:.0f} ms, "
                    f"{done.state.value}: {done.reason}",
                    flush=True,
                )
                admin.identity.delete_user(tenant.user_id, ignore_missing=True)
            controller.terminate()
        print()
        print(f"samples {len(samples)}")
        print(f"p50 {percentile(samples, 0.50) * 1000:.0f} ms (target < 1000)")
        print(f"p99 {percentile(samples, 0.99) * 1000:.0f} ms (target < 3000)")
        print(f"mean {statistics.mean(samples) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms")
        return 0
    finally:
        if not run_dir:
            bed.down()


if __name__ == "__main__":
    raise SystemExit(main())
