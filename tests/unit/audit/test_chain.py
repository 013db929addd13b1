"""The chain's arithmetic, as an independent verifier would redo it."""

from __future__ import annotations

import hashlib
import itertools

from reaper.audit import chain
from reaper.audit.chain import GENESIS, ChainHead
from tests.unit.audit.helpers import draft, make_chain


def test_the_head_is_sha256_of_the_previous_head_and_the_record_hash_as_raw_bytes() -> None:
    body = draft(1).body(1).encode()
    expected = hashlib.sha256(bytes.fromhex(GENESIS) + hashlib.sha256(body).digest())

    assert chain.next_head(GENESIS, chain.record_hash(body)) == expected.hexdigest()


def test_sealing_numbers_records_from_the_head_and_links_each_to_the_one_before() -> None:
    records = make_chain(4)

    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert records[0].prev_head == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev_head == before.head
    for rec in records:
        assert rec.record_hash == chain.record_hash(rec.body)
        assert rec.head == chain.next_head(rec.prev_head, rec.record_hash)


def test_the_body_carries_its_own_position() -> None:
    records = make_chain(3)

    assert [f'"seq":{r.seq}' in r.body for r in records] == [True, True, True]


def test_sealing_after_an_existing_head_continues_it() -> None:
    first = make_chain(2)
    more = make_chain(2, head=chain.tip(ChainHead(), first))

    assert [r.seq for r in more] == [3, 4]
    assert more[0].prev_head == first[-1].head


def test_sealing_is_deterministic_so_a_chain_can_be_recomputed() -> None:
    assert make_chain(3) == make_chain(3)


def test_the_tip_of_nothing_is_the_head_it_started_from() -> None:
    head = ChainHead(7, "ab" * 32)

    assert chain.tip(head, []) == head
