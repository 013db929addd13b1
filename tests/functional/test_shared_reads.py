"""Cloud-wide reads through openstacksdk over HTTP: every page, read once for a storm's projects.

The storm benchmark's fake cloud serves Glance's shared images (a ``next``
link while a page is full, 1,000 at most) and Nova's server groups (1,000
per answer, no next link, by offset), each deleted project a member of one
image and owner of a group past the first page. Several discoveries of
projects gone before the first read began, at once as a controller's
workers run them: each finds its membership and its group, and the cloud
served each image's members once, not once per project (issue 18).
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import openstack.connection
import pytest
from keystoneauth1.identity import v3

from benchmarks.stormcloud import StormCloud, StormSpec, project_id
from reaper import cloud
from reaper.inventory import cloudwide
from reaper.inventory.base import Scope
from reaper.inventory.image import ImageInventory
from reaper.inventory.server_groups import cloud_groups
from reaper.model import IdentityKind, IdentityRef, utcnow
from reaper.parts import SharedListings
from reaper.store import Store

pytestmark = pytest.mark.functional

PROJECTS, IMAGES, GROUPS = 4, 1300, 1100


def test_a_storms_projects_share_one_read_of_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudwide, "PROCESS", cloudwide.SharedReads())
    spec = StormSpec(
        projects=PROJECTS, latency=0.0, capacity=64, shared_images=IMAGES, server_groups=GROUPS
    )
    with StormCloud(spec) as fake:
        session = cloud.GuardedSession(auth=v3.Password(**fake.auth()))
        conn = openstacksdk_connection(session)
        gone_by = utcnow()
        fake.reset()

        def discover(n: int) -> tuple[list[str], list[str]]:
            pid = project_id(n)
            scope = Scope(
                IdentityRef(IdentityKind.PROJECT, pid),
                project_ids=frozenset({pid}),
                gone_by=gone_by,
            )
            finding = ImageInventory().discover(conn, scope)
            groups = cloud_groups(conn.compute, gone_by=gone_by)
            return sorted(r.id for r in finding.resources), [
                g.id for g in groups if g.project_id == pid
            ]

        with concurrent.futures.ThreadPoolExecutor(PROJECTS) as pool:
            found = list(pool.map(discover, range(PROJECTS)))
        served = fake.stats()["served"]

    for n, (members, groups) in enumerate(found):
        assert members == [f"1a000000-0000-4000-8000-{n:012x}:{project_id(n)}"]
        assert len(groups) == 1
    # Each image's members once; the shared images in 1,000s (openstacksdk asks once more
    # after a short page when given a limit: 3 pages, not Glance's default 25 a page = 53);
    # and each project's owned and hidden images.
    assert served["image list"] == IMAGES + 3 + 2 * PROJECTS
    assert served["compute list"] == 3  # 1,000 + 100 + the empty page, once for all


def test_two_controllers_share_one_read_through_the_store(pg_url: str) -> None:
    """Two controllers (two processes' reads, two stores on one PostgreSQL): the members
    and the groups read once for both, the second's answers rebuilt from the store."""
    spec = StormSpec(
        projects=PROJECTS, latency=0.0, capacity=64, shared_images=IMAGES, server_groups=GROUPS
    )
    stores = [Store.open(pg_url), Store.open(pg_url)]
    controllers = []
    for n, store in enumerate(stores):
        reads = cloudwide.SharedReads()
        SharedListings(store, f"c{n}", reads).start()
        controllers.append(reads)
    try:
        with StormCloud(spec) as fake:
            session = cloud.GuardedSession(auth=v3.Password(**fake.auth()))
            conn = openstacksdk_connection(session)
            gone_by = utcnow()
            fake.reset()
            found = []
            for n in range(PROJECTS):
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(cloudwide, "PROCESS", controllers[n % 2])
                    found.append(discover(conn, n, gone_by))
            served = fake.stats()["served"]
    finally:
        for store in stores:
            store.close()

    for n, (members, groups) in enumerate(found):
        assert members == [f"1a000000-0000-4000-8000-{n:012x}:{project_id(n)}"]
        assert len(groups) == 1
    assert served["image list"] == IMAGES + 3 + 2 * PROJECTS
    assert served["compute list"] == 3


def discover(conn: Any, n: int, gone_by: Any) -> tuple[list[str], list[str]]:
    """Project ``n``'s memberships and groups, as its discovery finds them."""
    pid = project_id(n)
    scope = Scope(
        IdentityRef(IdentityKind.PROJECT, pid), project_ids=frozenset({pid}), gone_by=gone_by
    )
    finding = ImageInventory().discover(conn, scope)
    assert not finding.errors
    groups = cloud_groups(conn.compute, gone_by=gone_by)
    return sorted(r.id for r in finding.resources), [g.id for g in groups if g.project_id == pid]


def openstacksdk_connection(session: Any) -> Any:
    """A connection over reaper's session, its versions read (not part of what is counted)."""
    session.get_token()
    conn = openstack.connection.Connection(
        session=session, region_name="RegionOne", interface="public"
    )
    conn.image.get_endpoint()
    conn.compute.get_endpoint()
    return conn
