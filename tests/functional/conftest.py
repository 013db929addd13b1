"""Fixtures of the functional tests.

The store's database fixtures live in store_fixtures.py (imported here so
every functional test can use them); add other fixtures below.
"""

from tests.functional.store_fixtures import *  # noqa: F403
