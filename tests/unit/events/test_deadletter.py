"""What reaper keeps of a message the driver could not decode: its fingerprint, never its body."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from reaper.events.deadletter import DeadLetter, name


def test_a_dead_letter_is_its_hash_size_and_envelope() -> None:
    body = b"\x80\x04garbage"
    at = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
    letter = DeadLetter.from_raw(
        body,
        content_type="application/x-python-serialize",
        content_encoding="binary",
        headers={
            "x-death": [
                {
                    "reason": "rejected",
                    "time": at,
                    "queue": "reaper",
                    "routing-keys": ["notifications.info"],
                    "count": 1,
                }
            ],
            "sender": b"\xff\xfe",
        },
        routing_key="ignored-when-x-death-says",
    )
    assert letter.sha256 == hashlib.sha256(body).hexdigest()
    assert letter.size == len(body)
    assert letter.ref == f"sha256:{letter.sha256[:16]}"
    assert letter.routing_key == "notifications.info"
    assert letter.reason == "rejected" and letter.dead_lettered_at == at.isoformat()
    details = letter.details(at)
    assert details["code"] == "undecodable"
    assert "garbage" not in json.dumps(details)
    assert details["headers"]["sender"] == "\\xff\\xfe"


def test_hostile_headers_are_bounded_and_storable() -> None:
    deep: dict = {}
    node = deep
    for _ in range(50):
        node["d"] = {}
        node = node["d"]
    headers = {f"h{i}": "v" * 10_000 for i in range(100)} | {"deep": deep, "s": "\ud800"}
    letter = DeadLetter.from_raw(b"", headers=headers)
    text = json.dumps(letter.details(dt.datetime.now(dt.timezone.utc)))
    text.encode("utf-8")
    assert len(letter.headers) <= 32
    assert len(text) < 32 * 300 + 2000


def test_no_headers_no_death_still_a_record() -> None:
    letter = DeadLetter.from_raw("text body", headers=None, routing_key="notifications.info")
    assert letter.routing_key == "notifications.info" and letter.reason is None
    assert letter.size == len(b"text body")


def test_the_dead_letter_queue_is_named_after_the_pool() -> None:
    assert name("reaper") == "reaper.dead-letter"
