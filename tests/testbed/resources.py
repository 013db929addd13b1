"""The cloud-wide resources every tenant needs (runs in the services' venv).

Waits until the services can really serve a tenant, then creates what an operator would:

- nova-compute registered and mapped into cell1 (``nova-manage cell_v2 discover_hosts``,
  run as soon as the compute service reports in rather than waiting for periodic discovery),
  its resource provider in placement;
- cinder's scheduler knowing the fake backend's pool (the first volume fails otherwise);
- tiny flavors, a public image, a flat external network on physical network ``public``
  with a subnet for floating IPs, and a volume type whose ``volume_backend_name`` matches
  cinder's backend (it is also cinder's ``default_volume_type``).

The ids go to ``<run dir>/resources.json``; the orchestrator copies them into state.json.

Usage: ``python -m tests.testbed.resources <run dir>``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import openstack

from tests.testbed.configs import PHYSICAL_NETWORK, VOLUME_BACKEND, VOLUME_TYPE
from tests.testbed.state import RunState

T = TypeVar("T")

FLAVORS = {"testbed.tiny": (1, 64, 1), "testbed.small": (1, 128, 2)}
IMAGE_NAME = "testbed-image"
#: Any small file boots on nova's fake driver.
IMAGE_BYTES = b"reaper testbed image\n" * 64
EXTERNAL_NETWORK = "public"
EXTERNAL_CIDR = "172.24.0.0/20"


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 180) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


def _compute_up(conn: Any) -> list[Any]:
    return [
        s
        for s in conn.compute.services()
        if s.binary == "nova-compute" and s.state == "up" and s.status == "enabled"
    ]


def prepare_compute(conn: Any, state: RunState) -> dict[str, Any]:
    wait_for("nova-compute to report in", lambda: _compute_up(conn))
    nova_manage = str(Path(sys.executable).parent / "nova-manage")
    nova_conf = str(state.layout.etc / "nova" / "nova.conf")
    subprocess.run(
        [nova_manage, "--config-file", nova_conf, "cell_v2", "discover_hosts", "--verbose"],
        check=True,
    )
    hypervisors = wait_for("a hypervisor", lambda: list(conn.compute.hypervisors()))
    wait_for("a resource provider", lambda: list(conn.placement.resource_providers()))
    flavors = {}
    for name, (vcpus, ram, disk) in FLAVORS.items():
        flavor = conn.compute.find_flavor(name) or conn.compute.create_flavor(
            name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True
        )
        flavors[name] = flavor.id
    return {"flavors": flavors, "hypervisors": [h.name for h in hypervisors]}


def prepare_block_storage(conn: Any) -> dict[str, Any]:
    volume_type = conn.block_storage.find_type(VOLUME_TYPE) or conn.block_storage.create_type(
        name=VOLUME_TYPE,
        is_public=True,
        extra_specs={"volume_backend_name": VOLUME_BACKEND},
    )
    wait_for("cinder's scheduler to know a pool", lambda: list(conn.block_storage.backend_pools()))
    return {"volume_type": volume_type.id}


def prepare_image(conn: Any) -> dict[str, Any]:
    image = conn.image.find_image(IMAGE_NAME)
    if image is None:
        image = conn.image.create_image(
            name=IMAGE_NAME,
            data=IMAGE_BYTES,
            disk_format="raw",
            container_format="bare",
            visibility="public",
            wait=True,
        )
    return {"image": image.id}


def prepare_network(conn: Any) -> dict[str, Any]:
    network = conn.network.find_network(EXTERNAL_NETWORK)
    if network is None:
        network = conn.network.create_network(
            name=EXTERNAL_NETWORK,
            is_router_external=True,
            is_shared=False,
            provider_network_type="flat",
            provider_physical_network=PHYSICAL_NETWORK,
        )
    subnet = conn.network.find_subnet(f"{EXTERNAL_NETWORK}-subnet")
    if subnet is None:
        subnet = conn.network.create_subnet(
            name=f"{EXTERNAL_NETWORK}-subnet",
            network_id=network.id,
            ip_version=4,
            cidr=EXTERNAL_CIDR,
            gateway_ip="172.24.0.1",
            is_dhcp_enabled=False,
        )
    return {"external_network": network.id, "external_subnet": subnet.id}


def main(argv: list[str]) -> int:
    state = RunState.load(Path(argv[0]))
    conn = openstack.connect(cloud=state.cloud_name)
    jobs: list[Callable[[], dict[str, Any]]] = [
        lambda: prepare_compute(conn, state),
        lambda: prepare_block_storage(conn),
        lambda: prepare_image(conn),
        lambda: prepare_network(conn),
    ]
    resources: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for result in pool.map(lambda job: job(), jobs):
            resources.update(result)
    (Path(argv[0]) / "resources.json").write_text(json.dumps(resources, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
