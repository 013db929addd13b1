"""An Octavia network driver whose VIP ports are real Neutron ports, and nothing else is.

The testbed boots no amphorae (Octavia's ``noop`` amphora and compute drivers), so the
real network driver (allowed address pairs) cannot plug anything into them. But the VIP
port is what matters to a cleanup: a real one, in the tenant's project and network
(``device_owner = Octavia``), keeps the network from being deleted until the load
balancer is. So VIP allocation and release go to the real driver (created by the API
with the load balancer, deleted by the worker's delete flow, as in production), and so
do lookups (the API finds a VIP subnet's network through ``get_subnet``); every other
network operation (plugging amphorae, security groups on their ports) is Octavia's own
no-op.
"""

from __future__ import annotations

import threading
from typing import Any

from octavia.network.drivers.neutron.allowed_address_pairs import AllowedAddressPairsDriver
from octavia.network.drivers.noop_driver.driver import NoopNetworkDriver


class RealVipNetworkDriver(NoopNetworkDriver):  # type: ignore[misc]
    """``noop`` networking, except that VIP ports exist in Neutron."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._neutron: AllowedAddressPairsDriver | None = None

    def _real(self) -> AllowedAddressPairsDriver:
        # Built on first use: its constructor asks Neutron for its extensions.
        with self._lock:
            if self._neutron is None:
                self._neutron = AllowedAddressPairsDriver()
            return self._neutron


#: What goes to Neutron: the VIP port's life, and reading networks, subnets and ports.
REAL = (
    "allocate_vip",
    "deallocate_vip",
    "get_network",
    "get_subnet",
    "get_port",
    "get_network_by_name",
    "get_subnet_by_name",
    "get_port_by_name",
    "get_port_by_net_id_device_id",
    "get_security_group",
    "get_security_group_by_id",
    "get_network_ip_availability",
    "qos_enabled",
)


def _delegate(name: str) -> Any:
    def call(self: RealVipNetworkDriver, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._real(), name)(*args, **kwargs)

    call.__name__ = name
    return call


for _name in REAL:
    setattr(RealVipNetworkDriver, _name, _delegate(_name))
