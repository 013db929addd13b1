"""Cloud-wide slots shared fairly: a waiting controller gets its share, an idle one frees its own.

The store's ``budget_slots`` is played by an in-memory table with the same
rules (a free slot is one without a live holder; a failed claim writes its
controller as waiting; a successful one clears that); the PostgreSQL and
MariaDB version is in tests/functional/test_budget_slots.py.
"""

from __future__ import annotations

import datetime as dt

from reaper.budget.shared import SharedSlots


class Table:
    """``budget_slots`` in memory: (service, slot) -> holder; waiting controllers per service."""

    def __init__(self) -> None:
        self.slots: dict[tuple[str, int], str] = {}
        self.waiting: dict[str, set[str]] = {}
        self.claims = 0

    def claim_many(
        self,
        service: str,
        cap: int,
        holder: str,
        count: int,
        *,
        lease: dt.timedelta,
        waiting: dt.timedelta | None = None,
    ) -> list[int]:
        self.claims += 1
        taken = [n for n in range(cap) if (service, n) not in self.slots][:count]
        for n in taken:
            self.slots[(service, n)] = holder
        if taken:
            self.waiting.get(service, set()).discard(holder)
        elif waiting is not None:
            self.waiting.setdefault(service, set()).add(holder)
        return taken

    def renew(self, held, holder, *, lease):  # type: ignore[no-untyped-def]
        return {p for p in held if self.slots.get(p) == holder}

    def release(self, held, holder):  # type: ignore[no-untyped-def]
        for pair in held:
            if self.slots.get(pair) == holder:
                del self.slots[pair]

    def contention(self) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
        services = {s for s, _ in self.slots} | set(self.waiting)
        return {
            s: (
                frozenset(h for (x, _), h in self.slots.items() if x == s),
                frozenset(self.waiting.get(s, ())),
            )
            for s in services
        }

    def held_by(self, holder: str) -> int:
        return sum(1 for h in self.slots.values() if h == holder)


def controller(table: Table, name: str) -> SharedSlots:
    return SharedSlots(table, name, lease=30.0, monotonic=lambda: 100.0)


def test_a_busy_controller_keeps_no_more_than_its_fair_share_while_another_waits() -> None:
    table = Table()
    busy, late = controller(table, "busy"), controller(table, "late")
    for _ in range(4):
        assert busy.grow("compute", 4)
        assert busy.take("compute", 100.0)
    assert not late.grow("compute", 4)  # none free: written as waiting
    busy.watch()
    assert busy.shares() == {"compute": 2}
    # Its requests answered, it neither reuses them all nor claims more...
    busy.give("compute")
    busy.give("compute")
    assert not busy.take("compute", 100.0)
    assert not busy.grow("compute", 4)
    # ...and gives back what is beyond its share at once.
    busy.trim(idle=False)
    assert table.held_by("busy") == 2
    assert late.grow("compute", 4) and late.grow("compute", 4)
    assert table.held_by("late") == 2
    # Nobody waits any more: the whole cap is the busy one's again.
    busy.watch()
    assert busy.shares() == {}


def test_a_share_is_counted_among_every_controller_that_holds_or_waits() -> None:
    table = Table()
    a, b, c = (controller(table, n) for n in "abc")
    for _ in range(7):
        assert a.grow("network", 8)
    assert b.grow("network", 8)
    assert not c.grow("network", 8)
    assert not controller(table, "d").grow("network", 8)
    a.watch()
    assert a.shares() == {"network": 2}  # 8 among a, b, c and d: waiting d counts


def test_slots_left_idle_are_given_back_each_linger_and_used_ones_kept() -> None:
    table = Table()
    slots = controller(table, "c1")
    for _ in range(3):
        assert slots.grow("image", 4)
    for _ in range(2):
        assert slots.take("image", 100.0)
    slots.give("image")
    slots.give("image")
    slots.trim(idle=False)  # before the linger is up: kept
    assert table.held_by("c1") == 3
    slots.trim(idle=True)  # two were used at once since the last trim: those two kept
    assert table.held_by("c1") == 2
    slots.trim(idle=True)  # none used since: all back
    assert table.held_by("c1") == 0


def test_a_controller_that_holds_nothing_has_no_share_to_keep() -> None:
    table = Table()
    table.waiting["compute"] = {"other"}
    slots = controller(table, "c1")
    slots.watch()
    assert slots.shares() == {}
    assert slots.grow("compute", 2)  # the store decides: one is free


def test_a_burst_is_served_by_one_claim_within_the_fair_share() -> None:
    table = Table()
    slots = controller(table, "c1")
    assert slots.grow("compute", 8, want=5)
    assert (table.claims, table.held_by("c1")) == (1, 5)
    assert controller(table, "c2").grow("compute", 8, want=4)  # the 3 left
    assert table.held_by("c2") == 3
    table.waiting["compute"] = {"c3"}
    slots.watch()  # c1, c2 (3 slots) and c3 waiting: 3 each
    assert slots.shares() == {"compute": 3}
    assert not slots.grow("compute", 8, want=4)  # 5 held already: no claim at all
    assert table.claims == 2
