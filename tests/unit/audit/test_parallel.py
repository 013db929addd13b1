"""What verify's workers send back: every record's inspection, field by field."""

from __future__ import annotations

from reaper.audit import parallel
from reaper.audit.inspection import inspect
from tests.unit.audit.helpers import edit_body, make_chain


def test_a_range_comes_back_as_the_records_it_inspected() -> None:
    records = make_chain(5)
    records[2] = edit_body(records[2], lambda body: body.update(action="create"))
    found = [inspect(rec) for rec in records]
    sent = list(zip(*found, strict=True))  # as _inspect_range returns them

    assert list(parallel._rebuild(sent)) == found
    assert not found[2].hash_ok  # the edit travels too


def test_an_empty_range_comes_back_empty() -> None:
    # A range of seqs that rolled-back appends left unused has no records.
    assert list(parallel._rebuild([])) == []
