"""Fixtures of the functional tests.

The store's database fixtures live in store_fixtures.py, the OpenStack testbed's in
testbed_fixtures.py, and the fault proxy and tenant farm of the plan/apply tests in
reaper_fixtures.py, reaper's own service user in credential_fixtures.py (all imported
here so every functional test can use them); add other fixtures below.
"""

import pytest

from tests.functional.controller_fixtures import *  # noqa: F403
from tests.functional.credential_fixtures import *  # noqa: F403
from tests.functional.reaper_fixtures import *  # noqa: F403
from tests.functional.store_fixtures import *  # noqa: F403
from tests.functional.testbed_fixtures import *  # noqa: F403


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "testbed: uses the real OpenStack testbed (slow to start)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the testbed, so it can be selected or left out."""
    for item in items:
        if "testbed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.testbed)
