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


@pytest.fixture(scope="session")
def testbed_extras(testbed: Testbed) -> Testbed:
    """The testbed with Swift, Octavia and Designate running too.

    Started into the session's testbed the first time a test asks (about a minute), and
    only then: the modules that do not use them do not pay for them. On an attached
    testbed that already runs them, nothing is started.
    """
    testbed.start_services(EXTRA_SERVICES)
    return testbed


@pytest.fixture(scope="session")
def testbed_more(testbed: Testbed) -> Testbed:
    """The testbed with Manila, Heat and Barbican running too.

    Like ``testbed_extras``: started into the session's testbed on first use (about a
    minute), so only the modules that need shares, stacks or secrets pay for them.
    """
    testbed.start_services(MORE_SERVICES)
    return testbed
