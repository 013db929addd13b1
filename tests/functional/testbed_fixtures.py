"""The OpenStack testbed (tests/testbed) for functional tests.

``testbed`` is session-scoped: it brings up a run of its own (about a minute and a half
with a warm venv cache, longer on a fresh machine) and brings it down when the session
ends, or, when ``REAPER_TESTBED_RUN_DIR`` names a running one (``python -m tests.testbed
up`` prints it), attaches to that and leaves it running, for fast development loops.
``REAPER_TESTBED_KEEP_LOGS=1`` keeps the run directory (logs, configs) after the session.
``testbed_extras`` is the same testbed with Swift, Octavia and Designate started into it
on first use.

Tests that use it are marked ``testbed`` by conftest.py, so ``-m "functional and not
testbed"`` skips them and ``-m testbed`` selects them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.testbed import Testbed

if TYPE_CHECKING:
    from openstack.connection import Connection

#: The fixtures conftest.py re-exports.
__all__ = ["testbed", "testbed_admin", "testbed_extras", "testbed_more"]

#: The optional services (tests/testbed/extras) that ``testbed_extras`` starts.
EXTRA_SERVICES = ("swift", "octavia", "designate")
#: Those that ``testbed_more`` starts: shares, stacks and secrets.
MORE_SERVICES = ("manila", "heat", "barbican")

RUN_DIR_ENV = "REAPER_TESTBED_RUN_DIR"
KEEP_LOGS_ENV = "REAPER_TESTBED_KEEP_LOGS"


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    """A running testbed: a new one for the session, or the one ``REAPER_TESTBED_RUN_DIR`` names."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        yield Testbed.attach(run_dir)
        return
    bed = Testbed.up()
    try:
        yield bed
    finally:
        bed.down(keep_logs=bool(os.environ.get(KEEP_LOGS_ENV)))


@pytest.fixture(scope="session")
def testbed_admin(testbed: Testbed) -> Connection:
    """An admin openstacksdk connection to the testbed (sees every project's resources)."""
    return testbed.connect()


#: The service proxies openstacksdk caches on first use; those of the optional services
#: are dropped when they start, so the next use looks their endpoints up again.
_OPTIONAL_PROXIES = (
    "object_store",
    "load_balancer",
    "dns",
    "shared_file_system",
    "orchestration",
    "key_manager",
)


def _see_new_services(admin: Connection) -> None:
    """Make the session's admin connection see services started after it first logged in.

    Its token, and the catalog in it, predate them (in CI the first testbed test runs
    long before the first that needs Swift or Heat), and openstacksdk caches a proxy per
    service the first time it is asked for one, even when the catalog had no endpoint.
    """
    admin.session.invalidate()
    for name in _OPTIONAL_PROXIES:
        delattr(admin, name)  # the descriptor's __delete__ drops the cached proxy, if any
    admin.authorize()


@pytest.fixture(scope="session")
def testbed_extras(testbed: Testbed, testbed_admin: Connection) -> Testbed:
    """The testbed with Swift, Octavia and Designate running too.

    Started into the session's testbed the first time a test asks (about a minute), and
    only then: the modules that do not use them do not pay for them. On an attached
    testbed that already runs them, nothing is started.
    """
    testbed.start_services(EXTRA_SERVICES)
    _see_new_services(testbed_admin)
    return testbed


@pytest.fixture(scope="session")
def testbed_more(testbed: Testbed, testbed_admin: Connection) -> Testbed:
    """The testbed with Manila, Heat and Barbican running too.

    Like ``testbed_extras``: started into the session's testbed on first use (about a
    minute), so only the modules that need shares, stacks or secrets pay for them.
    """
    testbed.start_services(MORE_SERVICES)
    _see_new_services(testbed_admin)
    return testbed
