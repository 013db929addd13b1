"""Cloud-wide reads shared by every controller of a store (reaper/inventory/shelf.py).

Issue 18's B2 storm: each controller paid the members of 2,000 foreign
shared images once, because a read was shared only by one process's
discoveries. The store's shelf is played here by :class:`MemoryShelf`, with
the fencing of ``cloud_reads`` (reaper/store/reads.py, on PostgreSQL in
tests/functional/test_cloud_reads.py); each :class:`StoredReads` is one
controller. The rule is the one a process keeps: a discovery is served only
by a read begun at or after its identity was gone, at most 600 s old, and a
failed read serves nobody.
"""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from reaper.inventory import cloudwide
from reaper.inventory.image import ImageInventory
from reaper.inventory.shelf import Codec, StoredReads
from reaper.store.reads import ReadRow as Entry
from tests.unit.test_inventory_cloudwide import T0, Clock, Glance, scope

PLAIN = Codec(encode=lambda v: v, decode=lambda v: v)
NOVA = "http://nova/v2.1"


class MemoryShelf:
    """``cloud_reads`` in memory: one row per listing, every change fenced by its generation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.renewals = 0
        self.down = False

    def _row(self, endpoint: str, listing: str) -> dict[str, Any]:
        if self.down:
            raise ConnectionError("store unavailable")
        return self.rows.setdefault(
            (endpoint, listing),
            {"generation": 0, "began": None, "reader": None, "expires_at": None, "body": None},
        )

    def look(self, endpoint: str, listing: str) -> Entry:
        with self.lock:
            r = self._row(endpoint, listing)
            return Entry(
                r["generation"], r["began"], r["reader"], r["expires_at"], r["body"] is not None
            )

    def body(self, endpoint: str, listing: str, generation: int) -> str | None:
        with self.lock:
            r = self._row(endpoint, listing)
            ok = r["generation"] == generation and r["reader"] is None
            return r["body"] if ok else None

    def begin(self, endpoint, listing, generation, reader, began, expires_at) -> bool:  # type: ignore[no-untyped-def]
        with self.lock:
            r = self._row(endpoint, listing)
            if r["generation"] != generation:
                return False
            r.update(generation=generation + 1, began=began, reader=reader, expires_at=expires_at)
            r["body"] = None
            return True

    def _mine(
        self, endpoint: str, listing: str, generation: int, reader: str
    ) -> dict[str, Any] | None:
        r = self._row(endpoint, listing)
        return r if (r["generation"], r["reader"]) == (generation, reader) else None

    def renew(self, endpoint, listing, generation, reader, expires_at) -> bool:  # type: ignore[no-untyped-def]
        with self.lock:
            r = self._mine(endpoint, listing, generation, reader)
            if r is None:
                return False
            r["expires_at"] = expires_at
            self.renewals += 1
            return True

    def finish(self, endpoint, listing, generation, reader, body) -> bool:  # type: ignore[no-untyped-def]
        with self.lock:
            r = self._mine(endpoint, listing, generation, reader)
            if r is None:
                return False
            r.update(reader=None, expires_at=None, body=body)
            return True

    def abandon(self, endpoint, listing, generation, reader) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            r = self._mine(endpoint, listing, generation, reader)
            if r is not None:
                r.update(began=None, reader=None, expires_at=None, body=None)


class Reads:
    """A listing whose answer is its read's number; each read counted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> list[int]:
        self.count += 1
        return [self.count]


def controller(shelf: MemoryShelf, name: str, clock: Clock, **kw: Any) -> StoredReads:
    return StoredReads(shelf, name, clock=clock, **kw)


@pytest.fixture
def shelf() -> MemoryShelf:
    return MemoryShelf()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(cloudwide, "PROCESS", cloudwide.SharedReads(clock=clock))
    return clock


def test_a_read_of_one_controller_serves_anothers_discoveries_gone_before_it_began(
    shelf: MemoryShelf, clock: Clock
) -> None:
    reads = Reads()
    clock.now = T0 + dt.timedelta(seconds=2)
    first = controller(shelf, "c1", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN)
    clock.now = T0 + dt.timedelta(seconds=30)
    second = controller(shelf, "c2", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN)

    assert first == second == (T0 + dt.timedelta(seconds=2), [1])
    assert reads.count == 1


def test_a_discovery_gone_after_the_stored_read_began_reads_again(
    shelf: MemoryShelf, clock: Clock
) -> None:
    reads = Reads()
    controller(shelf, "c1", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN)
    clock.now = T0 + dt.timedelta(seconds=1)
    later = controller(shelf, "c2", clock).fetch(
        NOVA, "groups", reads, since=clock.now, codec=PLAIN
    )

    assert later == (clock.now, [2])


def test_a_stored_read_past_its_age_serves_nobody(shelf: MemoryShelf, clock: Clock) -> None:
    reads = Reads()
    controller(shelf, "c1", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN)
    clock.now = T0 + dt.timedelta(seconds=601)
    assert controller(shelf, "c2", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN)[
        1
    ] == [2]


def test_listings_and_endpoints_are_kept_apart(shelf: MemoryShelf, clock: Clock) -> None:
    reads = Reads()
    c1 = controller(shelf, "c1", clock)
    c1.fetch(NOVA, "groups", reads, since=T0, codec=PLAIN)
    c1.fetch(NOVA, "other", reads, since=T0, codec=PLAIN)
    c1.fetch("http://nova-2/v2.1", "groups", reads, since=T0, codec=PLAIN)
    assert reads.count == 3


def test_a_read_in_flight_elsewhere_is_waited_for_not_made_again(
    shelf: MemoryShelf, clock: Clock
) -> None:
    started, release = threading.Event(), threading.Event()
    reads = Reads()

    def slow() -> list[int]:
        started.set()
        release.wait(5)
        return reads()

    answers: list[Any] = []
    first = threading.Thread(
        target=lambda: answers.append(
            controller(shelf, "c1", clock).fetch(NOVA, "groups", slow, since=T0, codec=PLAIN)
        )
    )
    first.start()
    started.wait(5)
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        release.set()
        first.join(5)

    waiter = controller(shelf, "c2", clock, sleep=sleep)
    answers.append(waiter.fetch(NOVA, "groups", reads, since=T0, codec=PLAIN))

    assert answers == [(T0, [1]), (T0, [1])]
    assert reads.count == 1 and len(polls) == 1


def test_a_failed_read_fails_its_discovery_and_serves_nobody_after(
    shelf: MemoryShelf, clock: Clock
) -> None:
    def broken() -> list[int]:
        raise RuntimeError("glance down")

    with pytest.raises(RuntimeError, match="glance down"):
        controller(shelf, "c1", clock).fetch(NOVA, "groups", broken, since=T0, codec=PLAIN)
    reads = Reads()
    assert controller(shelf, "c2", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN) == (
        T0,
        [1],
    )


def test_a_reader_that_died_is_waited_for_only_until_its_lease_ends(
    shelf: MemoryShelf, clock: Clock
) -> None:
    shelf.begin(NOVA, "groups", 0, "dead", T0, T0 + dt.timedelta(seconds=30))
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.now += dt.timedelta(seconds=seconds)

    reads = Reads()
    took = controller(shelf, "c2", clock, sleep=sleep, poll=5.0).fetch(
        NOVA, "groups", reads, since=T0, codec=PLAIN
    )

    assert took == (T0 + dt.timedelta(seconds=30), [1]) and sum(waited) == 30


def test_a_read_in_flight_that_began_before_a_discoverys_bound_is_followed_by_its_own(
    shelf: MemoryShelf, clock: Clock
) -> None:
    """One read in flight in the cloud: the later discovery waits, then reads after it."""
    shelf.begin(NOVA, "groups", 0, "c1", T0, T0 + dt.timedelta(seconds=30))

    def sleep(seconds: float) -> None:  # c1's read ends while c2 waits
        shelf.finish(NOVA, "groups", 1, "c1", "[0]")
        clock.now = T0 + dt.timedelta(seconds=3)

    reads = Reads()
    took = controller(shelf, "c2", clock, sleep=sleep).fetch(
        NOVA, "groups", reads, since=T0 + dt.timedelta(seconds=1), codec=PLAIN
    )

    assert took == (T0 + dt.timedelta(seconds=3), [1])


def test_two_controllers_that_find_no_read_never_both_begin_one(
    shelf: MemoryShelf, clock: Clock
) -> None:
    """The second's begin is fenced by the generation it saw: it waits for the first's read."""
    reads = Reads()
    look = shelf.look

    def raced(endpoint: str, listing: str) -> Entry:
        seen = look(endpoint, listing)
        if seen.generation == 0:  # c1 begins between c2's look and c2's begin
            shelf.begin(endpoint, listing, 0, "c1", T0, T0 + dt.timedelta(seconds=30))
            shelf.finish(endpoint, listing, 1, "c1", "[7]")
        return seen

    shelf.look = raced  # type: ignore[method-assign]
    assert controller(shelf, "c2", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN) == (
        T0,
        [7],
    )
    assert reads.count == 0


def test_an_unavailable_store_means_reading_alone(shelf: MemoryShelf, clock: Clock) -> None:
    shelf.down = True
    reads = Reads()
    assert controller(shelf, "c1", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN) == (
        T0,
        [1],
    )


def test_an_answer_that_cannot_be_decoded_means_reading_alone(
    shelf: MemoryShelf, clock: Clock
) -> None:
    shelf.begin(NOVA, "groups", 0, "c1", T0, T0 + dt.timedelta(seconds=30))
    shelf.finish(NOVA, "groups", 1, "c1", "{not json")
    reads = Reads()
    assert controller(shelf, "c2", clock).fetch(NOVA, "groups", reads, since=T0, codec=PLAIN)[
        1
    ] == [1]


def test_a_long_read_keeps_its_lease(shelf: MemoryShelf, clock: Clock) -> None:
    done = threading.Event()

    def slow() -> list[int]:
        done.wait(0.3)
        return [1]

    controller(shelf, "c1", clock, lease=0.06).fetch(NOVA, "groups", slow, since=T0, codec=PLAIN)

    assert shelf.renewals >= 2
    assert shelf.look(NOVA, "groups").reader is None


# -- through the process's shared reads and the image inventory ----------------------------


def process(shelf: MemoryShelf, name: str, clock: Clock, **kw: Any) -> cloudwide.SharedReads:
    reads = cloudwide.SharedReads(clock=clock)
    reads.attach(StoredReads(shelf, name, clock=clock, **kw))
    return reads


def memberships(glance: Glance, project: str, gone_by: dt.datetime) -> list[str]:
    finding = ImageInventory().discover(SimpleNamespace(image=glance), scope(project, gone_by))
    assert not finding.errors
    return sorted(r.id for r in finding.resources)


def test_four_controllers_pay_the_shared_images_members_once(
    shelf: MemoryShelf, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    glance = Glance({f"i{n}": ["p-live", f"p{n}"] for n in range(20)})
    clock.now = T0 + dt.timedelta(seconds=1)
    for n in range(4):
        monkeypatch.setattr(cloudwide, "PROCESS", process(shelf, f"c{n}", clock))
        assert memberships(glance, f"p{n}", T0) == [f"i{n}:p{n}"]
        assert memberships(glance, f"p{n + 4}", T0) == [f"i{n + 4}:p{n + 4}"]

    assert len(glance.member_gets) == 20


class Signalling(threading.Event):
    """An event that says when someone starts waiting for it."""

    def __init__(self, waiting: threading.Event) -> None:
        super().__init__()
        self.waiting = waiting

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_a_discovery_that_joined_a_read_answered_from_an_older_stored_one_reads_again(
    shelf: MemoryShelf, clock: Clock
) -> None:
    """Joined while the read was in flight (begun after its bound, it seemed), served
    by a stored read begun before its bound: it looks again, and reads."""
    shelf.begin(NOVA, "groups", 0, "c1", T0, T0 + dt.timedelta(seconds=30))
    shelf.finish(NOVA, "groups", 1, "c1", "[0]")
    clock.now = T0 + dt.timedelta(seconds=10)
    reads = process(shelf, "c2", clock)
    in_body, joined = threading.Event(), threading.Event()
    body = shelf.body

    def held(endpoint: str, listing: str, generation: int) -> str | None:
        in_body.set()
        joined.wait(5)  # until the second discovery waits for this read
        return body(endpoint, listing, generation)

    shelf.body = held  # type: ignore[method-assign]
    fresh = Reads()
    answers: dict[str, Any] = {}

    def discover(name: str, bound: dt.datetime) -> None:
        answers[name] = reads.read(NOVA, "groups", fresh, gone_by=bound, codec=PLAIN)

    first = threading.Thread(target=discover, args=("bound T0", T0))
    first.start()
    assert in_body.wait(5)
    (in_flight,) = reads._reads[(NOVA, "groups")]
    in_flight.done = Signalling(joined)
    second = threading.Thread(target=discover, args=("bound T0+5", T0 + dt.timedelta(seconds=5)))
    second.start()
    first.join(5)
    second.join(5)

    assert answers == {"bound T0": [0], "bound T0+5": [1]}
    assert fresh.count == 1
