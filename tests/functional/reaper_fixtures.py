"""Session fixtures of reaper's plan and apply tests: the fault proxy and the tenant farm.

Both are session-scoped because both cost: the proxy is cheap but every
module's clouds.yaml points at it, and tenants build best in parallel, the
live tenant once for every module that checks reaper never touches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.faultproxy import FaultProxy, upstreams_of
from tests.functional.reaping import TenantFarm

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

#: The fixtures conftest.py re-exports.
__all__ = ["fault_proxy", "tenant_farm"]


@pytest.fixture(scope="session")
def fault_proxy(testbed: Testbed, testbed_admin: Connection) -> Iterator[FaultProxy]:
    """A proxy in front of the testbed's keystone, nova, cinder, neutron and glance.

    It starts without faults; tests fault it with ``fault_proxy.faulting(...)``.
    """
    with FaultProxy(upstreams_of(testbed_admin)) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def tenant_farm(
    request: pytest.FixtureRequest, testbed: Testbed, testbed_admin: Connection
) -> Iterator[TenantFarm]:
    """Builds tenants in parallel; on an attached testbed, reaps them at the end.

    Every selected test module's ``TENANTS`` are ordered at once, on first use, with
    the live tenant they all check reaper never touches.
    """
    farm = TenantFarm(testbed_admin, testbed, cleanup=not testbed.owned)
    modules = {item.module for item in request.session.items if hasattr(item, "module")}
    for module in sorted(modules, key=lambda m: m.__name__):
        for key, spec in getattr(module, "TENANTS", {}).items():
            farm.order(key, spec)
    farm.live()
    try:
        yield farm
    finally:
        farm.close()
