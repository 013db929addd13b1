"""Fixtures of the functional tests.

The store's database fixtures live in store_fixtures.py, the OpenStack testbed's in
testbed_fixtures.py, and the fault proxy and tenant farm of the plan/apply tests in
reaper_fixtures.py, reaper's own service user in credential_fixtures.py (all imported
here so every functional test can use them); add other fixtures below.
"""

import os
from typing import Any

import pytest

from tests.functional.controller_fixtures import *  # noqa: F403
from tests.functional.credential_fixtures import *  # noqa: F403
from tests.functional.reaper_fixtures import *  # noqa: F403
from tests.functional.store_fixtures import *  # noqa: F403
from tests.functional.testbed_fixtures import *  # noqa: F403
from tests.functional.testbed_fixtures import RUN_DIR_ENV


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "testbed: uses the real OpenStack testbed (slow to start)")
    # pytest-xdist registers it too; without xdist the groups are merely unused.
    config.addinivalue_line("markers", "xdist_group(name): tests one pytest-xdist worker runs")


#: The pytest-xdist group of every test that uses the testbed: one worker, one testbed.
TESTBED_GROUP = "testbed"
#: The group of the modules that add services to it: a worker and a testbed of their own.
EXTRAS_GROUP = "testbed-extras"

#: Fixtures that start optional services into the session's one testbed, for good.
OPTIONAL_SERVICE_FIXTURES = frozenset({"testbed_extras", "testbed_more"})


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups set here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the testbed; run the modules that add services last.

    ``testbed_extras`` and ``testbed_more`` start Swift, Octavia, Designate, Manila,
    Heat and Barbican into the session's testbed, where they stay: a core test run
    after them would meet a cloud with more quotas and endpoints than the one it
    specifies (test_plan's exact quota set, its every-request-through-the-proxy
    check). So every module that uses either runs after all the others, each
    module whole and in its collected order.

    Under pytest-xdist (``--dist loadgroup``, as tox runs the suite) the core testbed
    tests are one group, so one worker runs them all in that order against the one
    testbed it starts; the modules that add services are another, on a worker that
    starts a testbed of its own (the core tests never meet their services there);
    the other workers take the modules that need only the broker and the databases,
    each module whole (its module fixtures set up once). The testbed tests were
    almost all of the suite's time on one worker while the other sat idle.
    """
    adding = {
        _module(item)
        for item in items
        if OPTIONAL_SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())) and _module(item)
    }
    for item in items:
        module = _module(item)
        if "testbed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.testbed)
            # A testbed given in REAPER_TESTBED_RUN_DIR is one for both groups: there
            # the services added would reach the core tests, so all of them share a worker.
            apart = module in adding and not os.environ.get(RUN_DIR_ENV)
            group = EXTRAS_GROUP if apart else TESTBED_GROUP
            item.add_marker(pytest.mark.xdist_group(group))
        else:
            item.add_marker(pytest.mark.xdist_group(module))
    items.sort(key=lambda item: _module(item) in adding)


def _module(item: pytest.Item) -> str:
    """The name of the test module ``item`` is in ("" for an item outside any module)."""
    return getattr(getattr(item, "module", None), "__name__", "")


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, run by the controller
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Refuse to run the testbed tests spread over workers that would each start a testbed.

    pytest-xdist's ``loadgroup`` sends a group to one worker by appending ``@group`` to
    each test's id, which pytest 9.2 no longer lets it do (hence test-requirements'
    pin): every worker then started a testbed of its own and, on two cores, none came
    up in time. Stop at once, saying why, instead.
    """
    if node.config.getvalue("dist") != "loadgroup":
        return
    ungrouped = [nodeid for nodeid in ids if "@" not in nodeid]
    if ungrouped:
        pytest.exit(
            f"pytest-xdist did not group {ungrouped[0]} (and {len(ungrouped) - 1} more): "
            "its loadgroup does not work with this pytest; see test-requirements.txt",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
