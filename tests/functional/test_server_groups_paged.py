"""Nova pages server groups by offset; reaper reads them to the end (issue 18), on the testbed."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from reaper.inventory.server_groups import all_server_groups

if TYPE_CHECKING:
    from openstack.connection import Connection

pytestmark = pytest.mark.functional


@pytest.fixture
def groups(testbed_admin: Connection) -> Iterator[set[str]]:
    tag = secrets.token_hex(3)
    made = {
        testbed_admin.compute.create_server_group(name=f"paged-{tag}-{n}", policy="affinity").id
        for n in range(5)
    }
    yield made
    for gid in made:
        testbed_admin.compute.delete_server_group(gid, ignore_missing=True)


def test_pages_of_two_read_by_offset_give_every_group_nova_has(
    testbed_admin: Connection, groups: set[str]
) -> None:
    paged = all_server_groups(testbed_admin.compute, page=2)
    ids = [g.id for g in paged]
    assert groups <= set(ids)
    assert len(ids) == len(set(ids))
    assert set(ids) == {g.id for g in testbed_admin.compute.server_groups(all_projects=True)}
