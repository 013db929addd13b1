"""B1 sweep at scale: reaper's sweep against a raw-JSON counting reader, on a fake cloud.

``python -m benchmarks sweep [--resources 100000] [--projects 1000] [--latency 0.05]
[--gone 0.05]`` (``--resources 100000,300000,1000000 --projects 1000,5000,10000``
runs the three sizes of issue 18, paired in order).

The cloud is :mod:`benchmarks.fakecloud`: Keystone, Nova, Cinder, Neutron
and Glance answering real openstacksdk-format pages at each service's
default page size, ``--latency`` seconds per request, in a process of its
own. ``R`` resources (servers, volumes, snapshots, networks, ports,
floating IPs, routers, images) belong to ``P`` projects and their users;
``--gone`` of them were deleted from Keystone and left everything behind.

Four readers, each in a fresh process forked from this one (the same
imports; CPU is the process's own, memory its peak RSS and the peak's
growth over the RSS it started with):

* **raw reader** (the baseline): ``requests`` and ``json``, Keystone's
  three lists and every resource listing at ``limit=1000``, each page
  folded into a counter of owners; no SDK, no store;
* **reaper full scan**: ``Sweeper.survey`` at start-up (a real SQLite store
  whose directory saw every identity alive): Keystone's lists, every
  resource listing through the SDK's proxies as raw pages, the 404 check of
  each candidate;
* **reaper by difference, none vanished**: the next sweep, the directory
  holding only live identities;
* **reaper by difference, --gone vanished**: the next sweep, the directory
  holding every identity, ``--gone`` of them now missing from Keystone;
* **... one by one (before)**: the same, each owner verified as before the
  batches (its own witness after its 404), for the requests per vanished
  owner printed beside the batched figure.

Targets (issue 18): CPU and memory growth of the full scan within 3x of the
raw reader's; <= 50 requests per sweep when no owner vanished; no
unbounded response (no answer of more than 1,000 items, Keystone's lists
included: read ``limit`` a page as keystone 30 pages them); the 1M-resource
full scan under 1 GiB.

Measured 2026-12-06 on a shared 2-core machine (load 6-14), 50 ms, 5% gone
(CPU s / peak RSS MiB / growth MiB / requests):

=============  ======================  =====================  ==================
R / P          raw reader              reaper full scan       by difference,
                                                              none vanished
=============  ======================  =====================  ==================
100k / 1k      1.58 / 95 / 15 / 112    2.54 / 101 / 21 / 415  0.05 / 86 / 6 / 6
300k / 5k      4.83 / 97 / 16 / 312    10.43 / 106 / 26 / 1815  0.11 / 97 / 16 / 6
1M / 10k       17.32 / 101 / 6 / 1012  29.74 / 121 / 27 / 4015  0.30 / 114 / 19 / 6
=============  ======================  =====================  ==================

CPU 1.6-2.2x the raw reader's; peak RSS 1.1-1.2x; growth 1.4x and 1.6x, but
4.2x at 1M (27 vs 6 MiB, the raw reader's figure the noisiest: the fixed
part, Keystone's lists and the directory held as values, is 19 MiB on its
own). Of the full scan's requests, three per vanished owner are the 404
checks (the owner, then reaper's own project and user); at 1M they are
3,000 of 4,015 and most of its 629 s.

The vanished owners' checks since (``--readers quiet,vanished,one-by-one``,
1M / 10k, 1,000 owners vanished, same run, load ~4.5): in batches of 100
on 4 threads with reaper's own account witnessed once per batch, 1.02
Keystone requests per vanished owner, 1,028 requests, 3.87 CPU s, 27.3 s
wall; one by one as before (a witness after each 404), 3.00 per owner,
3,006 requests, 9.64 CPU s, 80.4 s wall (8.89 CPU s / 3,006 requests in the
run of the table above).

With Keystone's lists paged too (``limit=1000``, as keystone 30 needs) and
the batched checks, 1M / 10k, same run, load 16-27 (before in brackets, from
the table above): raw reader 19.04 CPU s, 99 MiB peak, 18 MiB growth, 1,030
requests (17.32 / 101 / 6 / 1,012); full scan 26.36 CPU s, 119 MiB, 38 MiB,
2,055 requests, 354 s wall (29.74 / 121 / 27 / 4,015, 629 s): growth 2.2x
the raw reader's (4.2x); by difference, none vanished: 0.34 CPU s, 99 MiB,
18 MiB, 24 requests, ten pages each of projects and users (table: 0.30 /
114 / 19 / 6; unpaged, in the run of the batched checks: 0.31 / 111 / 30 /
6); 5% vanished: 3.43 CPU s, 101 MiB, 20 MiB, 1,046 requests (1.02 per
owner). At 1,000 identities a page (keystone's ``max_db_limit``), a sweep
where nothing vanished passes 50 requests beyond ~22k projects and users.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.fakecloud import ADMIN_PROJECT, DOMAIN, KINDS, FakeCloud, Spec, project_id, user_id
from benchmarks.support import log, machine_load
from benchmarks.sweep_intake import intake_during_sweep
from benchmarks.sweep_intake import report as report_intake

GIB = 1 << 30
PAGE = 1000
QUIET = "reaper by difference, none vanished"
#: Keystone's per-identity GETs: the 404 checks and the witness reads of reaper's own account.
IDENTITY_GETS = ("GET identity/v3/projects/{id}", "GET identity/v3/users/{id}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks sweep", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--resources", default="100000", help="R, or a comma list (paired with --projects)"
    )
    parser.add_argument("--projects", default="1000", help="P, or a comma list")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (0.05)")
    parser.add_argument(
        "--gone", type=float, default=0.05, help="fraction of owners deleted (0.05)"
    )
    parser.add_argument(
        "--intake-rate",
        type=float,
        default=20.0,
        help="notifications a second during the intake reader's windows (20)",
    )
    parser.add_argument(
        "--readers",
        default=",".join(READERS),
        help=f"which readers run, a comma list of {', '.join(READERS)} (all)",
    )
    args = parser.parse_args(argv)
    chosen = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = sorted(set(chosen) - set(READERS))
    if unknown:
        parser.error(f"--readers: unknown {', '.join(unknown)}; choose from {', '.join(READERS)}")
    sizes = list(zip(_ints(args.resources), _ints(args.projects), strict=True))
    failed = 0
    for resources, projects in sizes:
        spec = Spec(
            resources=resources, projects=projects, gone_fraction=args.gone, latency=args.latency
        )
        failed += run(spec, chosen, intake_rate=args.intake_rate)
    return 1 if failed else 0


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


#: The readers, by the short name ``--readers`` takes.
READERS = ("raw", "full", "quiet", "vanished", "one-by-one", "intake-p99")


def run(spec: Spec, chosen: Sequence[str] = READERS, *, intake_rate: float = 20.0) -> int:
    """One size: the four readers, their figures and the targets; returns targets missed."""
    print(
        f"\nB1 sweep: R={spec.resources:,} resources, P={spec.projects:,} projects (+1 user "
        f"each), {spec.gone:,} projects and users gone ({spec.gone_fraction:.0%}), "
        f"{spec.latency * 1000:.0f} ms a request; {machine_load()}",
        flush=True,
    )
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="reaper-sweep-bench-") as tmp, FakeCloud(spec) as cloud:
        everyone, alive_only = _stores(Path(tmp), spec)
        _warm(cloud)
        vanished = f"reaper by difference, {spec.gone_fraction:.0%} vanished"
        readers: dict[str, tuple[str, Callable[[], Any]]] = {
            "raw reader": ("raw", lambda: raw_reader(cloud)),
            "reaper full scan": ("full", lambda: reaper_sweep(cloud, everyone, full=True)),
            QUIET: ("quiet", lambda: reaper_sweep(cloud, alive_only, full=False)),
            vanished: ("vanished", lambda: reaper_sweep(cloud, everyone, full=False)),
            f"{vanished}, one by one (before)": (
                "one-by-one",
                lambda: reaper_sweep(cloud, everyone, full=False, batched=False),
            ),
        }
        for name, (short, reader) in readers.items():
            if short not in chosen:
                continue
            log(f"B1 R={spec.resources} P={spec.projects}: {name}")
            cloud.reset()
            rows[name] = measured(reader)
            rows[name]["stats"] = cloud.stats()
        intake = None
        if "intake-p99" in chosen:
            log(f"B1 R={spec.resources} P={spec.projects}: intake during a sweep")
            cloud.reset()
            intake = measured(lambda: intake_during_sweep(cloud, everyone, intake_rate))["answer"]
    return report(spec, rows, intake)


def _stores(tmp: Path, spec: Spec) -> tuple[str, str]:
    """Two store files: a directory that saw every identity alive, and one of the live only."""
    from reaper.model import IdentityKind, IdentityRef
    from reaper.store import Known, Store

    made = []
    for name, first in (("everyone", 0), ("alive", spec.gone)):
        url = f"sqlite:///{tmp / name}.sqlite"
        with Store.open(url) as store:
            seen = [Known(IdentityRef(IdentityKind.PROJECT, ADMIN_PROJECT), DOMAIN)]
            for i in range(first, spec.projects):
                seen.append(Known(IdentityRef(IdentityKind.PROJECT, project_id(i)), DOMAIN))
                seen.append(Known(IdentityRef(IdentityKind.USER, user_id(i)), DOMAIN))
            store.directory.record(seen)
        made.append(url)
    return made[0], made[1]


def _warm(cloud: FakeCloud) -> None:
    """Load, in this parent, the modules a running controller has loaded already.

    The SDK imports each service's proxy on first use; in a controller that
    happened long before a sweep, so a forked reader must not count it as
    the sweep's memory or CPU.
    """
    import openstack

    import reaper.cleanup.sweep  # noqa: F401

    conn = openstack.connect(**cloud.auth(), region_name="RegionOne")
    for service, path in (
        ("identity", "/domains"),
        ("compute", "/servers/detail"),
        ("block_storage", "/volumes/detail"),
        ("network", "/routers"),
        ("image", "/images"),
    ):
        getattr(conn, service).get(path, params={"limit": 1})
    conn.close()


def measured(reader: Callable[[], Any]) -> dict[str, Any]:
    """``reader()`` in a forked process: its answer, CPU seconds, wall time and memory."""
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()

    def child() -> None:
        _reset_peak()
        rss = _status("VmRSS")
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        answer = reader()
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak = _status("VmHWM")
        theirs.send(
            {"answer": answer, "cpu": cpu, "wall": wall, "peak": peak, "growth": peak - rss}
        )

    process = ctx.Process(target=child)
    process.start()
    got = mine.recv()
    process.join()
    return got


def _reset_peak() -> None:
    """Start the peak-RSS count (``VmHWM``) from now: the fork inherits the parent's."""
    Path("/proc/self/clear_refs").write_text("5")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def raw_reader(cloud: FakeCloud) -> dict[str, int]:
    """The baseline: every listing at ``limit=1000`` with ``requests``, owners counted."""
    import requests

    session = requests.Session()
    auth = cloud.auth()
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "password": auth["password"],
                        "domain": {"id": DOMAIN},
                    }
                },
            },
            "scope": {"project": {"name": auth["project_name"], "domain": {"id": DOMAIN}}},
        }
    }
    answer = session.post(f"{auth['auth_url']}/auth/tokens", json=body, timeout=300)
    session.headers["X-Auth-Token"] = answer.headers["X-Subject-Token"]
    catalog = {e["type"]: e["endpoints"][0]["url"] for e in answer.json()["token"]["catalog"]}
    endpoints = {
        "compute": catalog["compute"],
        "volume": catalog["block-storage"],
        "network": catalog["network"] + "/v2.0",
        "image": catalog["image"] + "/v2",
    }
    known = set()
    for key in ("projects", "users", "domains"):
        next_url: str | None = f"{catalog['identity']}/v3/{key}?limit={PAGE}"
        while next_url:
            body = session.get(next_url, timeout=300).json()
            known.update(item["id"] for item in body[key])
            next_url = body["links"].get("next") if body[key] else None
    owners: collections.Counter[str] = collections.Counter()
    fields = {
        "servers": "tenant_id",
        "volumes": "os-vol-tenant-attr:tenant_id",
        "snapshots": "os-extended-snapshot-attributes:project_id",
        "images": "owner",
    }
    for kind, (prefix, path, key, *_) in KINDS.items():
        service = prefix.split("/")[1]
        base = endpoints[service]
        url: str | None = f"{base}{path}"
        params: dict[str, Any] | None = {"limit": PAGE, "all_tenants": 1, "visibility": "all"}
        field = fields.get(kind, "project_id")
        while url:
            page = json.loads(session.get(url, params=params, timeout=300).content)
            items = page[key]
            for item in items:
                owners[item[field]] += 1
            links = page.get(f"{key}_links") or []
            url = next((link["href"] for link in links if link.get("rel") == "next"), None)
            if page.get("next"):
                url = base + page["next"][page["next"].find("/", 1) :]
            params = None
            if not items:
                url = None
    return {"owners": len(owners), "unknown": sum(1 for o in owners if o not in known)}


def reaper_sweep(
    cloud: FakeCloud, store_url: str, *, full: bool, batched: bool = True
) -> dict[str, int]:
    """``Sweeper.survey``, as the controller runs it, over the SDK and a real store.

    ``batched=False`` verifies each candidate as before issue 18's batches: one
    :func:`~reaper.cleanup.verify.verify` each, its own witness after its 404.
    """
    import dataclasses

    import openstack

    from reaper.cleanup.seams import Cloud
    from reaper.cleanup.settings import Settings
    from reaper.cleanup.sweep import Sweeper
    from reaper.model import utcnow
    from reaper.store import Store

    conn = openstack.connect(**cloud.auth(), region_name="RegionOne")
    with Store.open(store_url, migrate_schema=False) as store:
        seams = Cloud.of(conn)
        if not batched:
            seams = dataclasses.replace(seams, keystone_many=None)
        sweeper = Sweeper(Settings(), store=store, trail=None, cloud=lambda: seams)  # type: ignore[arg-type]
        if not full:
            # Steady state: a full scan done, so the sweep lists only what changed since.
            sweeper.last_full = sweeper.clock()
            sweeper.scanned_at = utcnow()
        found = sweeper.survey(seams)
    return {
        "orphans": len(found.orphans),
        "resources": sum(o.resources for o in found.orphans),
        "incomplete": len(found.incomplete),
        "full": int(found.full),
    }


def report(
    spec: Spec, rows: dict[str, dict[str, Any]], intake: dict[str, Any] | None = None
) -> int:
    """The figures side by side, then each target with its verdict; returns targets missed."""
    print(
        f"\n{'reader':<54} {'requests':>8} {'CPU s':>7} {'wall s':>7} {'peak MiB':>9} "
        f"{'growth MiB':>10}  answer"
    )
    for name, row in rows.items():
        requests = sum(v[0] for v in row["stats"].values())
        print(
            f"{name:<54} {requests:>8} {row['cpu']:>7.2f} {row['wall']:>7.1f} "
            f"{row['peak'] / (1 << 20):>9.0f} {row['growth'] / (1 << 20):>10.0f}  {row['answer']}"
        )
    endpoints = sorted({e for row in rows.values() for e in row["stats"]})
    names = list(rows)
    print(f"\nrequests per endpoint (largest answer in items) for: {' | '.join(names)}")
    for endpoint in endpoints:
        cells = []
        for name in names:
            got = rows[name]["stats"].get(endpoint)
            cells.append(f"{got[0]:>6} ({got[2]:>6})" if got else f"{'-':>6} {'':>8}")
        print(f"  {endpoint:<36} " + "  ".join(cells))
    _per_vanished_owner(rows)
    answers = [v[2] for row in rows.values() for v in row["stats"].values()]
    keystone_lists = max(
        (
            v[2]
            for row in rows.values()
            for e, v in row["stats"].items()
            if e in ("GET identity/v3/projects", "GET identity/v3/users")
        ),
        default=0,
    )
    targets = []
    raw, full = rows.get("raw reader"), rows.get("reaper full scan")
    if raw and full:
        targets += [
            (
                "CPU of the full scan <= 3x the raw reader's",
                full["cpu"] / max(raw["cpu"], 1e-9),
                3.0,
                f"{full['cpu']:.2f} s vs {raw['cpu']:.2f} s",
            ),
            (
                "memory growth of the full scan <= 3x the raw reader's",
                full["growth"] / max(raw["growth"], 1),
                3.0,
                f"{full['growth'] / (1 << 20):.0f} MiB vs {raw['growth'] / (1 << 20):.0f} MiB",
            ),
            (
                "peak RSS of the full scan <= 3x the raw reader's (same imports)",
                full["peak"] / max(raw["peak"], 1),
                3.0,
                f"{full['peak'] / (1 << 20):.0f} MiB vs {raw['peak'] / (1 << 20):.0f} MiB",
            ),
        ]
    if QUIET in rows:
        targets.append(
            (
                "requests of a sweep where no owner vanished <= 50",
                sum(v[0] for v in rows[QUIET]["stats"].values()),
                50,
                "incl. token and version discovery",
            )
        )
    targets.append(
        (
            "largest answer <= 1000 items (no unbounded response, Keystone's paged too)",
            max(answers, default=0),
            PAGE,
            f"Keystone's largest page: {keystone_lists} items",
        )
    )
    if full:
        targets.append(
            (
                "peak RSS of the full scan < 1 GiB",
                full["peak"] / GIB,
                1.0,
                f"{full['peak'] / (1 << 20):.0f} MiB",
            )
        )
    if intake is not None:
        targets += report_intake(intake)
    print("\ntargets:")
    missed = 0
    for what, value, bound, note in targets:
        ok = value <= bound
        missed += not ok
        print(f"  {'PASS' if ok else 'MISS'}  {what}: {value:.2f} (bound {bound}; {note})")
    return missed


def _per_vanished_owner(rows: dict[str, dict[str, Any]]) -> None:
    """Keystone's per-identity requests per vanished owner, one by one and in batches."""
    shown = []
    for name, row in rows.items():
        owners = row["answer"].get("orphans", 0) if isinstance(row["answer"], dict) else 0
        if "vanished" not in name or not owners:
            continue
        gets = sum(row["stats"].get(e, (0,))[0] for e in IDENTITY_GETS)
        total = sum(v[0] for v in row["stats"].values())
        how = "one by one" if "one by one" in name else "in witnessed batches"
        shown.append(
            f"  {how:<22} {gets / owners:>5.2f} ({gets} GETs for {owners} owners; "
            f"sweep {total} requests, {row['cpu']:.2f} CPU s, {row['wall']:.1f} s wall)"
        )
    if shown:
        print("\nKeystone requests per vanished owner (404 checks and witness reads):")
        print("\n".join(shown))


if __name__ == "__main__":
    raise SystemExit(main())
