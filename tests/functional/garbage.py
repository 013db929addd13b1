"""What anyone with access to the bus can publish on Keystone's exchange, and none of it valid.

Each :class:`Garbage` carries the body and content type to publish, and
what names it in reaper's audit trail: the truncated SHA-256 of its body
when the message driver cannot decode it (it is dead-lettered), else its
message id (or the truncated hash of one that cannot be stored). Every
message id carries ``tag`` so that a test finds its own records among
whatever else the bus carries.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from typing import Any

JSON = "application/json"


@dataclass(frozen=True)
class Garbage:
    kind: str
    body: bytes
    content_type: str = JSON
    message_id: Any = None
    #: Decodable, but with no message id: audited as ``unknown``.
    anonymous: bool = False

    @property
    def refs(self) -> set[str]:
        """The audit target ids that may name this message."""
        if self.anonymous:
            return {"unknown"}
        refs = {"sha256:" + hashlib.sha256(self.body).hexdigest()[:16]}
        if isinstance(self.message_id, str):
            refs |= {
                self.message_id,
                "sha256:" + hashlib.sha256(self.message_id.encode()).hexdigest()[:16],
            }
        return refs


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def messages(tag: str) -> list[Garbage]:
    """About fifty messages: transport garbage, envelope garbage, field garbage."""
    counter = iter(range(1000))

    def mid() -> str:
        return f"{tag}-{next(counter)}"

    def oslo(**fields: Any) -> Garbage:
        message = {
            "message_id": mid(),
            "publisher_id": "identity.prober",
            "event_type": "identity.project.deleted",
            "priority": "INFO",
            "payload": {"resource_info": os.urandom(16).hex()},
            "timestamp": "2026-11-26 12:00:00.000000",
        }
        message.update(fields)
        message = {k: v for k, v in message.items() if v is not ...}
        body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)})
        return Garbage(str(sorted(fields)), body.encode(), message_id=message.get("message_id"))

    raw = [
        Garbage("bad json", b"{not json"),
        Garbage("truncated json", b'{"oslo.version": "2.0", "oslo.message": '),
        Garbage("empty", b"", anonymous=True),
        Garbage("invalid utf-8", b"\xff\xfe\xfd" + os.urandom(8)),
        Garbage("broken inner json", b'{"oslo.version": "2.0", "oslo.message": "{not json'),
        Garbage("json scalar", b"42"),
        Garbage("json string", b'"identity.project.deleted"'),
        Garbage("json null", b"null"),
        Garbage("json true", b"true"),
        Garbage(
            "envelope without a message",
            json.dumps({"oslo.version": "9.0"}).encode(),
            anonymous=True,
        ),
        Garbage("inner not a string", b'{"oslo.version": "2.0", "oslo.message": {"a": 1}}'),
        Garbage("inner a list", b'{"oslo.version": "2.0", "oslo.message": "[1, 2]"}'),
        Garbage("deep", _deep(100_000).encode()),
        Garbage(
            "deep inner",
            json.dumps({"oslo.version": "2.0", "oslo.message": _deep(50_000)}).encode(),
        ),
        Garbage(
            "pickle",
            pickle.dumps({"event_type": "identity.project.deleted"}),
            "application/x-python-serialize",
        ),
        Garbage("pickle list", pickle.dumps([1, 2, 3]), "application/x-python-serialize"),
        Garbage("yaml", b"event_type: identity.project.deleted\n", "application/x-yaml"),
        Garbage("text", b"identity.project.deleted", "text/plain"),
        Garbage("octet stream", os.urandom(64), "application/octet-stream"),
        Garbage("unknown content type", b"{}", "application/x-reaper-test"),
    ]
    raw += [Garbage(f"binary {i}", os.urandom(100 + i)) for i in range(5)]
    # Decodable, but a list of pairs becomes an envelope without a priority.
    listed = mid()
    raw.append(Garbage("pairs", json.dumps([["message_id", listed]]).encode(), message_id=listed))
    fields = [
        oslo(priority=...),
        oslo(priority="bogus"),
        oslo(priority=42),
        oslo(priority=["info"]),
        oslo(event_type=42),
        oslo(event_type=...),
        oslo(event_type=["identity.project.deleted"]),
        oslo(event_type="identity.project.deleted\x00"),
        oslo(event_type="x" * 300),
        oslo(message_id="m" * 300),
        oslo(message_id=f"{mid()}\x00"),
        oslo(publisher_id=7),
        oslo(publisher_id="p" * 300),
        oslo(timestamp=["now"]),
        oslo(payload=[1]),
        oslo(payload="resource_info"),
        oslo(payload=None),
        oslo(payload={"resource_info": 5}),
        oslo(payload={"resource_info": None}),
        oslo(payload={"resource_info": "*"}),
        oslo(payload={"resource_info": "%"}),
        oslo(payload={"resource_info": os.urandom(16).hex().upper()}),
        oslo(payload={"resource_info": "x" * 70_000}),
        oslo(payload=json.loads(_deep(400))),
    ]
    return raw + fields
