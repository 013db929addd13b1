"""Cloud-wide reads shared by controllers through the store (``cloud_reads``), PG and MariaDB.

Two controllers are two :class:`Store` objects on one database, each with
the process's shared reads attached to the store (as the controller's
``listings`` part does); their workers discover at once, as a storm's do,
and the cloud is read once for all of them (issue 18: each controller paid
the members of 2,000 shared images). The rule (a read serves discoveries
gone before it began, a failed one serves nobody) is specified in
tests/unit/test_inventory_shelf.py; here, the store's fencing and what it keeps.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from reaper.inventory import cloudwide
from reaper.inventory.server_groups import GROUPS, PagedServerGroup
from reaper.inventory.shelf import Codec, StoredReads
from reaper.model import utcnow
from reaper.parts import SharedListings
from reaper.store import Store
from reaper.store.reads import ReadRepository

pytestmark = pytest.mark.functional

NOVA = "http://nova/v2.1"
LEASE = dt.timedelta(seconds=30)
PLAIN = Codec(encode=lambda v: v, decode=lambda v: v)


@pytest.fixture(params=["postgresql", "mysql"])
def shared_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url"}[request.param])
    )


@pytest.fixture
def stores(shared_url: str) -> Iterator[tuple[Store, Store]]:
    one, two = Store.open(shared_url), Store.open(shared_url)
    yield one, two
    one.close()
    two.close()


def test_two_controllers_workers_at_once_read_the_cloud_once(
    stores: tuple[Store, Store],
) -> None:
    gone_by = utcnow()
    lock = threading.Lock()
    reads: list[int] = []
    groups = [
        PagedServerGroup.existing(id=f"g{n}", project_id=f"p{n}", member_ids=[], name=f"g{n}")
        for n in range(1500)
    ]

    def listing() -> list[PagedServerGroup]:
        with lock:
            reads.append(1)
        time.sleep(0.5)
        return groups

    processes = []
    for n, store in enumerate(stores):
        process = cloudwide.SharedReads()
        SharedListings(store, f"c{n}", process).start()
        processes.append(process)
    answers: list[list[str]] = []

    def discover(process: cloudwide.SharedReads) -> None:
        found = process.read(NOVA, "compute.server_groups", listing, gone_by=gone_by, codec=GROUPS)
        with lock:
            answers.append([g.project_id for g in found])

    threads = [threading.Thread(target=discover, args=(p,)) for p in processes * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)

    assert len(reads) == 1
    assert answers == [[f"p{n}" for n in range(1500)]] * 6


def test_a_read_begins_only_from_the_generation_its_reader_saw(
    stores: tuple[Store, Store],
) -> None:
    one, two = ReadRepository(stores[0].db), ReadRepository(stores[1].db)
    now = utcnow()
    seen = one.look(NOVA, "groups")
    assert (seen.generation, seen.reader, seen.answered) == (0, None, False)
    assert two.look(NOVA, "groups") == seen

    assert one.begin(NOVA, "groups", 0, "c1", now, now + LEASE)
    assert not two.begin(NOVA, "groups", 0, "c2", now, now + LEASE)
    in_flight = two.look(NOVA, "groups")
    assert (in_flight.generation, in_flight.reader, in_flight.began) == (1, "c1", now)
    assert not two.renew(NOVA, "groups", 1, "c2", now + LEASE)
    assert not two.finish(NOVA, "groups", 1, "c2", "[]")
    assert two.body(NOVA, "groups", 1) is None  # in flight: nothing to serve yet

    assert one.renew(NOVA, "groups", 1, "c1", now + 2 * LEASE)
    assert one.finish(NOVA, "groups", 1, "c1", '["answer"]')
    answered = two.look(NOVA, "groups")
    assert (answered.generation, answered.reader, answered.answered) == (1, None, True)
    assert two.body(NOVA, "groups", 1) == '["answer"]'
    assert two.body(NOVA, "groups", 0) is None


def test_a_reader_taken_over_after_its_lease_writes_nothing(stores: tuple[Store, Store]) -> None:
    one, two = ReadRepository(stores[0].db), ReadRepository(stores[1].db)
    then = utcnow() - dt.timedelta(minutes=1)
    assert one.look(NOVA, "groups").generation == two.look(NOVA, "groups").generation == 0
    assert one.begin(NOVA, "groups", 0, "c1", then, then + LEASE)
    now = utcnow()
    assert two.begin(NOVA, "groups", 1, "c2", now, now + LEASE)  # c1's lease ran out

    assert not one.finish(NOVA, "groups", 1, "c1", '["stale"]')
    one.abandon(NOVA, "groups", 1, "c1")
    assert two.look(NOVA, "groups").reader == "c2"
    assert two.finish(NOVA, "groups", 2, "c2", '["fresh"]')
    assert one.body(NOVA, "groups", 2) == '["fresh"]'


def test_a_failed_read_leaves_nothing_to_serve(stores: tuple[Store, Store]) -> None:
    gone_by = utcnow()
    shelf = StoredReads(ReadRepository(stores[0].db), "c1")

    def broken() -> list[int]:
        raise RuntimeError("nova down")

    with pytest.raises(RuntimeError, match="nova down"):
        shelf.fetch(NOVA, "groups", broken, since=gone_by, codec=PLAIN)
    left = ReadRepository(stores[1].db).look(NOVA, "groups")
    assert (left.began, left.reader, left.answered) == (None, None, False)

    other = StoredReads(ReadRepository(stores[1].db), "c2")
    assert other.fetch(NOVA, "groups", lambda: [2], since=gone_by, codec=PLAIN)[1] == [2]


def test_a_large_answer_is_kept_whole(stores: tuple[Store, Store]) -> None:
    """The members of 2,000 shared images: a megabyte of JSON, deflated far beyond 64 KiB (TEXT)."""
    now = utcnow()
    body = json.dumps(
        [
            [f"image-{n:05d}", "owner", [{"member_id": secrets.token_hex(16)} for _ in range(12)]]
            for n in range(2000)
        ]
    )
    repo = ReadRepository(stores[0].db)
    assert repo.look(NOVA, "image.members").generation == 0
    assert repo.begin(NOVA, "image.members", 0, "c1", now, now + LEASE)
    assert repo.finish(NOVA, "image.members", 1, "c1", body)

    assert len(body) > 2**20
    assert ReadRepository(stores[1].db).body(NOVA, "image.members", 1) == body


def test_the_embedded_store_shares_nothing(sqlite_url: str) -> None:
    """SQLite serves one controller: its process's reads are all there is to share."""
    process = cloudwide.SharedReads()
    with Store.open(sqlite_url) as store:
        SharedListings(store, "c1", process).start()
    assert process.shelf is None
