"""reaper.uuids makes the strings uuid.uuid4() makes."""

from __future__ import annotations

import os
import uuid

import pytest

from reaper import uuids


def test_each_is_a_version_4_uuid_written_as_str_writes_it() -> None:
    made = uuids.uuid4s(500)
    assert len(made) == len(set(made)) == 500
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_the_same_bytes_make_the_same_uuids_as_the_standard_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = os.urandom(16 * 64) + bytes(16) + b"\xff" * 16
    monkeypatch.setattr(uuids.os, "urandom", lambda n: raw[:n])
    made = uuids.uuid4s(66)
    expected = [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, 16 * 66, 16)]
    assert made == expected


def test_none_asked_none_made() -> None:
    assert uuids.uuid4s(0) == []
