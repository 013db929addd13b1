"""The cleanup benchmark's Swift and Octavia extras: containers of many objects, a load balancer.

``python -m benchmarks.cleanup_bench --extras 3x200`` gives every cell's
tenant, on top of its size, ``3`` Swift containers of ``200`` tiny objects
each and one Octavia load balancer on its subnet (no-op amphora driver: a
real VIP port, no VM). The testbed must run Swift and Octavia (``python -m
tests.testbed up --with swift,octavia``, or ``start swift,octavia`` into a
run that is up).

What each cleaner does with them:

* **reaper**: its own plan (containers emptied with bulk delete, the
  account, the load balancer by cascade before the network steps).
* **sdk**: ``project_cleanup`` covers object storage and load balancers
  when they are in the catalog (its only mode: before the project is
  deleted); its polling also waits for the load balancer to be gone.
* **ideal**: in the same first phase as the floating IPs, one cascade
  DELETE per load balancer and, per container, one object listing, one
  bulk delete (one DELETE per object where the cluster has no bulk delete)
  and the container's DELETE; the load balancer is waited for (polled)
  before the subnet and network, whose deletion its VIP port blocks; the
  account's DELETE joins the last phase (quotas), as reaper deletes it too.

Leftovers count the account's containers and the load balancers not
``DELETED``. Everything here but the parsing talks to the cloud; the
parsing is unit-tested.

Not yet measured here: the fault proxy fronts identity, compute,
block-storage, network, image and placement only, so Swift's and Octavia's
own requests are in the wall times but not in the request counts, and
``--latency`` is not added to them.

Measured once (2026-12-06, 2 cores under load average 15-20 from other
work, one testbed with swift,octavia; ``REAPER_TESTBED_RUN_DIR=... python -m
benchmarks.cleanup_bench --sizes tiny --latency 0 --extras 3x200 --settle
3``), 625 resources per tenant, leftovers 0 for all three::

    cleaner  wall s  x ideal  requests (core services only)
    reaper     22.8    0.93x  78 (GET 54, POST 1, PUT 1, DELETE 22)
    sdk        36.4    1.49x  68 (GET 47, POST 2, PUT 1, DELETE 18)
    ideal      24.5    1.00x  51 (GET 27, POST 1, PUT 1, DELETE 22)

Reaper's 3 containers took 8.5-22.1 s of its timeline (emptied by bulk
delete, the account deleted after them), its load balancer 8.0-13.3 s,
before the subnet (20.5 s); the ideal's first phase (floating IP, load
balancer cascade, three bulk-emptied containers) took 8.6 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed.tenant import Tenant

_TOKEN = re.compile(r"^(\d+)x(\d+)$")
#: Objects uploaded at once while a tenant is built.
UPLOAD_WORKERS = 16


@dataclasses.dataclass(frozen=True)
class Extras:
    """Swift containers of ``objects`` tiny objects each, and ``load_balancers`` load balancers."""

    containers: int
    objects: int
    load_balancers: int = 1

    @property
    def label(self) -> str:
        return f"{self.containers}x{self.objects}+lb"

    @property
    def resources(self) -> int:
        """Counted as a user would: one per container, object and load balancer."""
        return self.containers * (1 + self.objects) + self.load_balancers

    @classmethod
    def parse(cls, token: str) -> Extras:
        """``CONTAINERSxOBJECTS``, e.g. ``3x200``: at least one container; objects may be 0."""
        match = _TOKEN.match(token.strip())
        if not match or int(match.group(1)) < 1:
            raise argparse.ArgumentTypeError(
                f"extras {token!r}: CONTAINERSxOBJECTS with at least one container, e.g. 3x200"
            )
        return cls(int(match.group(1)), int(match.group(2)))


def container_names(extras: Extras) -> list[str]:
    return [f"bench-c{i}" for i in range(extras.containers)]


def object_names(extras: Extras) -> list[str]:
    return [f"o{i:06d}" for i in range(extras.objects)]


# -- building ------------------------------------------------------------------------------


def give_extras(tenant: Tenant, extras: Extras, *, timeout: float = 600.0) -> None:
    """As the tenant's own user: the containers, their objects, the load balancer (ACTIVE)."""
    user = tenant.connect()
    store = user.object_store
    for name in container_names(extras):
        store.create_container(name)
    uploads = [(c, o) for c in container_names(extras) for o in object_names(extras)]
    with concurrent.futures.ThreadPoolExecutor(UPLOAD_WORKERS) as pool:
        list(pool.map(lambda co: store.upload_object(co[0], co[1], data=b"x"), uploads))
    lbs = [
        user.load_balancer.create_load_balancer(name=f"bench-lb{i}", vip_subnet_id=tenant.subnet_id)
        for i in range(extras.load_balancers)
    ]
    deadline = time.monotonic() + timeout
    for lb in lbs:
        while True:
            status = user.load_balancer.get_load_balancer(lb.id).provisioning_status
            if status == "ACTIVE":
                break
            if status == "ERROR" or time.monotonic() > deadline:
                raise RuntimeError(f"load balancer {lb.id} is {status}, not ACTIVE")
            time.sleep(1.0)


# -- listing, as an admin (a reseller admin for Swift) ---------------------------------------


def account(conn: Connection, project_id: str) -> str:
    from reaper.inventory.object_store import account_url

    return account_url(conn, project_id)


def containers(conn: Connection, project_id: str) -> list[str]:
    """The names of the project's containers (one listing; 404: no account)."""
    response = conn.object_store.get(
        account(conn, project_id), params={"format": "json"}, raise_exc=False
    )
    if response.status_code in (404, 410):  # never written to, or deleted
        return []
    _checked(response)
    return [c["name"] for c in (response.json() if response.content else [])]


def load_balancers(conn: Connection, project_id: str) -> list[str]:
    """The ids of the project's load balancers not yet ``DELETED``."""
    return [
        lb.id
        for lb in conn.load_balancer.load_balancers(project_id=project_id)
        if lb.provisioning_status != "DELETED"
    ]


def extra_leftovers(conn: Connection, project_id: str) -> dict[str, int]:
    left = {
        "containers": len(containers(conn, project_id)),
        "load_balancers": len(load_balancers(conn, project_id)),
    }
    return {kind: n for kind, n in left.items() if n}


def wait_load_balancers_gone(
    conn: Connection, project_id: str, *, interval: float, timeout: float
) -> int:
    """Poll the project's load balancers until none is listed; the polling rounds."""
    deadline = time.monotonic() + timeout
    rounds = 0
    while True:
        rounds += 1
        if not load_balancers(conn, project_id):
            return rounds
        if time.monotonic() > deadline:
            raise RuntimeError(f"load balancers still listed after {timeout:.0f}s")
        time.sleep(interval)


# -- the ideal's deletions ---------------------------------------------------------------------


def has_bulk_delete(conn: Connection) -> bool:
    """Whether the cluster's ``/info`` offers bulk delete (one request)."""
    from reaper.actions.object_store import bulk_limit

    return bulk_limit(conn) > 0


def _checked(response: Any) -> Any:
    from openstack import exceptions as sdk_exc

    sdk_exc.raise_from_response(response)
    return response


def container_deletion(
    conn: Connection, project_id: str, name: str, *, bulk: bool
) -> Callable[[], None]:
    """One call: list the container's objects, delete them (bulk), delete the container."""

    def run() -> None:
        acct = account(conn, project_id)
        url = f"{acct}/{quote(name, safe='')}"
        listed = conn.object_store.get(url, params={"format": "json"}, raise_exc=False)
        if listed.status_code != 404:
            _checked(listed)
            names = [o["name"] for o in (listed.json() if listed.content else [])]
            if names and bulk:
                body = "\n".join(f"/{quote(name, safe='')}/{quote(n, safe='')}" for n in names)
                _checked(
                    conn.object_store.post(
                        f"{acct}?bulk-delete",
                        data=body.encode(),
                        headers={"Content-Type": "text/plain", "Accept": "application/json"},
                        raise_exc=False,
                    )
                )
            else:
                for n in names:
                    conn.object_store.delete(f"{url}/{quote(n, safe='')}", raise_exc=False)
        _checked(conn.object_store.delete(url, raise_exc=False))

    return run


def load_balancer_deletion(conn: Connection, lb_id: str) -> Callable[[], Any]:
    return lambda: conn.load_balancer.delete_load_balancer(lb_id, cascade=True)


def account_deletion(conn: Connection, project_id: str) -> Callable[[], None]:
    """The account's DELETE, after its containers (reaper deletes it too)."""

    def run() -> None:
        response = conn.object_store.delete(account(conn, project_id), raise_exc=False)
        if response.status_code not in (404, 410):
            _checked(response)

    return run
