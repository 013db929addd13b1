"""The identity directory on every database: seen alive, with a domain filled once."""

from __future__ import annotations

import pytest

from reaper.model import IdentityKind, IdentityRef
from reaper.store import Store
from reaper.store.directory import KEYSTONE, NOTIFICATION, Known

pytestmark = pytest.mark.functional

P1 = IdentityRef(IdentityKind.PROJECT, f"{1:032x}")
P2 = IdentityRef(IdentityKind.PROJECT, f"{2:032x}")


def test_a_domain_is_filled_when_learnt_and_never_changed(store: Store) -> None:
    assert store.directory.record([Known(P1, None)], source=NOTIFICATION) == 1
    assert store.directory.record([Known(P1, "d-1"), Known(P2, "d-2")], source=KEYSTONE) == 1
    store.directory.record([Known(P1, "d-9")])
    got = store.directory.get(P1)
    assert got is not None and (got.domain_id, got.source) == ("d-1", NOTIFICATION)
    assert [k.identity for k in store.directory.in_domain("d-2")] == [P2]


def test_an_identity_never_seen_is_not_in_it(store: Store) -> None:
    assert store.directory.get(IdentityRef(IdentityKind.USER, f"{3:032x}")) is None


def test_it_joins_a_callers_transaction(store: Store) -> None:
    with store.db.write("a batch of notifications") as conn:
        store.directory.record([Known(P1, None)], source=NOTIFICATION, conn=conn)
    assert store.directory.get(P1) is not None
