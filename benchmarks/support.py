"""What the testbed benchmarks share: the testbed, the proxy, connections, tallies.

The cleanup and discovery benchmarks measure reaper against a real cloud
(``tests/testbed``) through the fault proxy (``tests/faultproxy.py``), so
that requests are counted and timed from the services' side, the same way
for reaper and for the cleaners it is compared with. This module holds the
plumbing they share, so each benchmark file reads as what it measures.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.faultproxy import FaultProxy, Seen
from tests.functional.reaping import admin_auth
from tests.testbed import Testbed

if TYPE_CHECKING:
    from openstack.connection import Connection
    from oslo_config import cfg

#: The cloud name reaper's clouds.yaml gives the proxied admin.
PROXIED_CLOUD = "bench-proxied"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


def log(message: str) -> None:
    """Progress on stderr, timestamped: full-size runs take an hour and must show where they are."""
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def machine_load() -> str:
    """The load average, printed beside every number: the machine is often shared."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


@contextlib.contextmanager
def open_testbed() -> Iterator[Testbed]:
    """The testbed named by ``REAPER_TESTBED_RUN_DIR``, else a fresh one taken down after."""
    run_dir = os.environ.get("REAPER_TESTBED_RUN_DIR")
    if run_dir:
        yield Testbed.attach(run_dir)
        return
    log("no REAPER_TESTBED_RUN_DIR: bringing a testbed up (about 2.5 minutes)")
    bed = Testbed.up()
    try:
        yield bed
    finally:
        bed.down()


def sdk_connection(
    proxy: FaultProxy, auth: Mapping[str, Any], region: str, **auth_overrides: Any
) -> Connection:
    """A plain openstacksdk connection whose every request goes through ``proxy``.

    Built from explicit values only (no clouds.yaml, no ``OS_*`` variables),
    so the benchmark's own environment cannot redirect it.
    """
    import openstack.config
    from openstack.connection import Connection

    merged = {**auth, **auth_overrides}
    if "project_id" in auth_overrides:
        merged.pop("project_name", None)
        merged.pop("project_domain_name", None)
        merged.pop("project_domain_id", None)
    cloud = proxy.cloud_config(merged, region_name=region)
    region_config = openstack.config.get_cloud_region(
        load_yaml_config=False, load_envvars=False, **cloud
    )
    return Connection(config=region_config)


class ReaperHome:
    """A reaper.conf, SQLite store and clouds.yaml of the benchmark's own, behind the proxy.

    reaper reads its credentials the way an operator's reaper does
    (``[service_credentials] cloud`` in a clouds.yaml), so the connection
    under test is made by ``reaper.cloud.connect`` itself.
    """

    def __init__(
        self,
        home: Path,
        proxy: FaultProxy,
        testbed: Testbed,
        executor: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.clouds_yaml = proxy.write_clouds_yaml(
            home / "clouds.yaml", PROXIED_CLOUD, admin_auth(testbed), region_name=testbed.region
        )
        self.conf_file = home / "reaper.conf"
        self.conf_file.write_text(
            "[DEFAULT]\n"
            f"state_path = {home / 'state'}\n"
            "host = reaper-bench\n"
            "[store]\n"
            f"connection = sqlite:///{home / 'state' / 'reaper.sqlite'}\n"
            "[service_credentials]\n"
            f"cloud = {PROXIED_CLOUD}\n"
            "[executor]\n" + "".join(f"{k} = {v}\n" for k, v in (executor or {}).items())
        )
        (home / "state").mkdir(exist_ok=True)
        # openstacksdk finds the clouds.yaml through the environment, as the CLI does.
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        os.environ.pop("OS_CLOUD", None)

    def conf(self) -> cfg.ConfigOpts:
        from reaper import config

        return config.make_conf(["--config-file", str(self.conf_file)])


def reap_project(home: ReaperHome, project_id: str, *, confirm_timeout: float = 300.0) -> str:
    """reaper's own apply path on a deleted project, untimed: how the benchmarks clean up.

    Whatever a measured cleaner left (quotas, leftovers, the ``default``
    security group) goes, so the next measurement starts on a clean cloud.
    A half-built tenant can hold a volume Cinder never finishes creating:
    ``confirm_timeout`` bounds the wait for it, so one broken build does not
    stall a benchmark run for reaper's default ten minutes. Returns the
    outcome counts, for the progress log.
    """
    import dataclasses

    from reaper import cloud
    from reaper.audit.trail import AuditTrail
    from reaper.cleanup.execute import execute_plan
    from reaper.cleanup.plan import make_plan
    from reaper.cleanup.record import audit_planned
    from reaper.cleanup.seams import Cloud
    from reaper.cleanup.settings import Settings
    from reaper.model import IdentityKind, IdentityRef
    from reaper.policy import configured_policy_paths, load_policies
    from reaper.store import Store

    conf = home.conf()
    policies = load_policies(configured_policy_paths(conf))
    with Store.from_conf(conf) as store:
        trail = AuditTrail.from_conf(store, conf)
        seams = Cloud.of(cloud.connect(conf, read_only=False))
        settings = Settings.from_conf(conf)
        settings = dataclasses.replace(
            settings, limits=dataclasses.replace(settings.limits, confirm_timeout=confirm_timeout)
        )
        planned = make_plan(
            seams, IdentityRef(IdentityKind.PROJECT, project_id), policies, settings
        )
        audit_planned(trail, planned)
        store.plans.save(planned.plan)
        report = execute_plan(
            seams, planned.plan, policies, settings, store=store, trail=trail, dry_run=False
        )
    return ", ".join(f"{n} {s}" for s, n in sorted(report.counts().items())) or "nothing"


def window(seen: Iterable[Seen], start: float, end: float) -> list[Seen]:
    """The requests the proxy saw start within ``[start, end]`` (its clock is ``monotonic``)."""
    return [s for s in seen if start <= s.started <= end]


def by_method(seen: Iterable[Seen]) -> dict[str, int]:
    counts = collections.Counter(s.method for s in seen)
    return {m: counts[m] for m in METHODS if counts[m]} | {
        m: n for m, n in counts.items() if m not in METHODS
    }


def by_service(seen: Iterable[Seen]) -> dict[str, collections.Counter[str]]:
    """service -> method -> requests."""
    result: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for s in seen:
        result[s.service][s.method] += 1
    return dict(result)


def methods_text(counts: Mapping[str, int]) -> str:
    """``GET 12, DELETE 40`` in a fixed method order."""
    return ", ".join(f"{m} {n}" for m, n in counts.items() if n) or "-"
