"""The sweep runs on one controller at a time: a database lock, on every shared database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reaper.cleanup import sweep
from reaper.store import Store

pytestmark = pytest.mark.functional


@pytest.fixture(params=["postgresql", "mysql"])
def two_controllers(request: pytest.FixtureRequest) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database, as two controllers on two hosts have."""
    fixture = {"postgresql": "pg_url", "mysql": "mysql_url"}[request.param]
    url = str(request.getfixturevalue(fixture))
    one, two = Store.open(url), Store.open(url)
    yield one, two
    one.close()
    two.close()


def test_only_one_controller_sweeps_at_a_time(two_controllers: tuple[Store, Store]) -> None:
    one, two = two_controllers

    with sweep.exclusive(one) as first, sweep.exclusive(two) as second:
        assert (first, second) == (True, False)


def test_the_next_sweep_may_run_anywhere_once_the_last_one_ended(
    two_controllers: tuple[Store, Store],
) -> None:
    one, two = two_controllers
    with sweep.exclusive(one) as first:
        assert first

    with sweep.exclusive(two) as second, sweep.exclusive(one) as again:
        assert (second, again) == (True, False)
