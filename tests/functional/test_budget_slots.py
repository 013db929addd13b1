"""Cloud-wide request caps on the real PostgreSQL and MariaDB: slots leased from the store.

Two controllers are two :class:`Store` objects (two engines, two pools)
on one database, each with its own budget, as two processes would have;
their threads send fake requests as fast as the budget lets them, and the
requests in flight from both together never exceed the cap. A controller
that dies frees its slots when their lease expires; one whose lease was
taken over cannot renew it.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from reaper.budget import Budget
from reaper.budget.shared import SharedSlots
from reaper.model import utcnow
from reaper.store import Store
from reaper.store.slots import SlotRepository

pytestmark = pytest.mark.functional

CAP = 3
LEASE = dt.timedelta(seconds=30)


@pytest.fixture(params=["postgresql", "mysql"])
def shared_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url"}[request.param])
    )


def test_two_controllers_together_never_exceed_the_cloud_wide_cap(shared_url: str) -> None:
    lock = threading.Lock()
    in_flight = [0]
    peak = [0]
    sent = [0]

    def request() -> None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            sent[0] += 1
        threading.Event().wait(0.01)
        with lock:
            in_flight[0] -= 1

    controllers = []
    for name in ("c1", "c2"):
        store = Store.open(shared_url)
        # A short lease: renewed each second, so an idle controller's slots come back soon.
        slots = SharedSlots(SlotRepository(store.db), name, lease=3.0).start()
        controllers.append((store, slots, Budget({"compute": CAP}, shared=slots)))

    def worker(budget: Budget) -> None:
        for _ in range(15):
            with budget.slot("compute"):
                request()

    threads = [
        threading.Thread(target=worker, args=(budget,))
        for _, _, budget in controllers
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sent[0] == 2 * 4 * 15
    assert 1 <= peak[0] <= CAP
    live = SlotRepository(controllers[0][0].db).holders().get("compute", {})
    assert sum(live.values()) <= CAP
    assert sum(s.held().get("compute", 0) for _, s, _ in controllers) <= CAP
    for _store, slots, _ in controllers:
        slots.stop()  # gives its slots back at once
    check = Store.open(shared_url)
    assert SlotRepository(check.db).holders() == {}
    for store, _, _ in controllers:
        store.close()
    check.close()


def test_a_dead_controller_s_slots_are_free_once_their_lease_has_expired(shared_url: str) -> None:
    store = Store.open(shared_url)
    repo = SlotRepository(store.db)
    now = utcnow()
    taken = [repo.claim("network", 2, "dead", lease=LEASE, now=now) for _ in range(2)]
    assert sorted(taken) == [0, 1]  # type: ignore[type-var]
    assert repo.claim("network", 2, "alive", lease=LEASE, now=now) is None
    later = now + LEASE + dt.timedelta(seconds=1)
    assert repo.claim("network", 2, "alive", lease=LEASE, now=later) == 0
    # The dead one, back from the dead, cannot renew what was taken over; it keeps the other.
    assert repo.renew([("network", 0), ("network", 1)], "dead", lease=LEASE, now=later) == {
        ("network", 1)
    }
    store.close()


def test_a_controller_cut_off_from_the_store_stops_using_its_slots_when_their_lease_ends(
    shared_url: str,
) -> None:
    store = Store.open(shared_url)
    clock = [100.0]
    slots = SharedSlots(SlotRepository(store.db), "c1", lease=30.0, monotonic=lambda: clock[0])
    assert slots.grow("image", 2)
    assert slots.take("image", clock[0])
    slots.give("image")

    class Down:
        def renew(self, *args: object, **kwargs: object) -> set[tuple[str, int]]:
            raise ConnectionError("store unreachable")

        def release(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("store unreachable")

    slots.leases = Down()  # type: ignore[assignment]
    slots._busiest["image"] = 1  # used since the last renewal: kept, not given back
    slots.renew_once()
    assert slots.take("image", clock[0] + 23.9)
    slots.give("image")
    assert not slots.take("image", clock[0] + 24.0)  # 80% of the lease, from before the claim
    store.close()


def test_the_controller_s_part_shares_the_process_budget_and_gives_its_slots_back(
    shared_url: str, sqlite_url: str
) -> None:
    from reaper import budget as budgets
    from reaper.budget import BudgetSettings
    from reaper.parts import SharedBudget

    settings = BudgetSettings(caps=(("compute", 2),), lease=30.0)
    store = Store.open(shared_url)
    part = SharedBudget(settings, store, "controller-1")
    part.start()
    process = budgets.for_process(settings)
    try:
        with process.slot("compute"):
            assert SlotRepository(store.db).holders() == {"compute": {"controller-1": 1}}
    finally:
        part.stop()
    assert process.shared is None
    assert SlotRepository(store.db).holders() == {}
    store.close()
    embedded = Store.open(sqlite_url)  # SQLite: one controller, its caps are the process's
    alone = SharedBudget(settings, embedded, "controller-1")
    alone.start()
    assert alone.slots is None and process.shared is None
    alone.stop()
    embedded.close()


def test_a_controller_that_found_no_slot_is_seen_waiting_until_it_gets_one(
    shared_url: str,
) -> None:
    store = Store.open(shared_url)
    repo = SlotRepository(store.db)
    now = utcnow()
    wait = dt.timedelta(seconds=1)
    assert repo.claim("compute", 1, "busy", lease=LEASE, now=now, waiting=wait) == 0
    assert repo.claim("compute", 1, "late", lease=LEASE, now=now, waiting=wait) is None
    assert repo.contention(now) == {"compute": (frozenset({"busy"}), frozenset({"late"}))}
    # Waiting is no slot: the holders are the same, and nobody else can claim it.
    assert repo.holders(now) == {"compute": {"busy": 1}}
    assert repo.claim("compute", 1, "third", lease=LEASE, now=now) is None
    # Not asked again for a while: no longer waiting.
    later = now + 2 * wait
    assert repo.contention(later) == {"compute": (frozenset({"busy"}), frozenset())}
    repo.release([("compute", 0)], "busy")
    assert repo.claim("compute", 1, "late", lease=LEASE, now=now, waiting=wait) == 0
    assert repo.contention(now) == {"compute": (frozenset({"late"}), frozenset())}
    store.close()


def test_a_controller_busy_with_every_slot_lets_a_waiting_one_in(shared_url: str) -> None:
    """Without a fair share the busy one reused its slots for ever; the other starved."""
    stop = threading.Event()
    late_done = threading.Event()
    stores, budgets, keepers = [], [], []
    for name in ("busy", "late"):
        store = Store.open(shared_url)
        slots = SharedSlots(SlotRepository(store.db), name, lease=3.0).start()
        stores.append(store)
        keepers.append(slots)
        budgets.append(Budget({"compute": CAP}, shared=slots))

    def hammer() -> None:
        while not stop.is_set():
            with budgets[0].slot("compute"):
                threading.Event().wait(0.01)

    threads = [threading.Thread(target=hammer) for _ in range(2 * CAP)]
    for t in threads:
        t.start()
    try:
        threading.Event().wait(0.5)  # every slot the busy one's
        assert keepers[0].held().get("compute") == CAP

        def late() -> None:
            for _ in range(5):
                with budgets[1].slot("compute"):
                    pass
            late_done.set()

        threading.Thread(target=late, daemon=True).start()
        assert late_done.wait(30), "the waiting controller never got a slot"
    finally:
        stop.set()
        for t in threads:
            t.join()
        for slots in keepers:
            slots.stop()
        for store in stores:
            store.close()


def test_a_burst_claims_several_slots_in_one_transaction(shared_url: str) -> None:
    store = Store.open(shared_url)
    repo = SlotRepository(store.db)
    first = repo.claim_many("volume", 4, "c1", 3, lease=LEASE)
    assert len(set(first)) == 3
    assert repo.claim_many("volume", 4, "c2", 3, lease=LEASE) == sorted({0, 1, 2, 3} - set(first))
    assert repo.claim_many("volume", 4, "c2", 3, lease=LEASE) == []
    assert repo.holders() == {"volume": {"c1": 3, "c2": 1}}
    store.close()
