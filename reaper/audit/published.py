"""``reaper audit verify --against FILE|DIR``: the trail in the database against what it published.

The published copies (``publish.py``) are out of reach of reaper's database
login, so they say what the database held when each checkpoint was written.
The trail is judged against every published checkpoint it finds:

* the published line must be what was signed: its digest is the SHA-256 of
  its body, and its signature verifies with the trusted key;
* the database must still hold that checkpoint, byte for byte: one that is
  missing was deleted, one that differs was rewritten;
* the chain must reach at least the published checkpoint's ``seq``: a
  shorter chain lost its tail, even when everything left is consistent;
* one number published twice with different digests, or a published
  checkpoint whose ``prev`` is not the digest of the published one before
  it, means the trail was rewound and continued.

Checkpoints the database holds beyond the last published one are a warning
(a sink that failed, or a copy taken earlier), as are gaps in the published
numbers. Lines that are not published checkpoints are skipped, so a syslog
export or a SIEM's dump of notifications can be given as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reaper.audit import keys
from reaper.audit.chain import ChainHead
from reaper.audit.checkpoint import Archived, Checkpoint, CheckpointHead
from reaper.audit.publish import EVENT_TYPE, TYPE
from reaper.audit.verify import Problem, ProblemKind, VerifyReport


@dataclass(frozen=True)
class Published:
    """One published checkpoint, as its signed body states it."""

    number: int
    seq: int
    head: str
    prev: str | None
    time: str
    key_id: str | None
    digest: str
    body: str
    signature: str | None
    #: ``file:line`` it was read from.
    where: str


@dataclass
class Comparison:
    """What the comparison found; :func:`merge` adds it to a verification report."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    published: int = 0
    matched: int = 0

    #: Per published number, the seq up to which the database still agrees with what was
    #: published before it: where a problem about that checkpoint can start, at the earliest.
    trusted: dict[int, int] = field(default_factory=dict)

    def problem(self, message: str, *, number: int | None = None) -> None:
        """A problem about checkpoint ``number``; its seq is the first one no longer vouched for."""
        seq = None if number is None else self.trusted.get(number, 0) + 1
        self.problems.append(Problem(ProblemKind.CHECKPOINT, message, seq=seq, checkpoint=number))


class _Trail(Protocol):
    """What is read from the database: its heads and its checkpoints."""

    def heads(self) -> tuple[ChainHead, CheckpointHead]: ...

    def checkpoints(self) -> Iterator[Checkpoint]: ...

    def archived(self) -> Archived: ...


# -- reading -----------------------------------------------------------------------------


def _candidate(text: str) -> Any:
    """The published object in ``text``: a bare line, a syslog line, a notification."""
    start = text.find("{")
    if start < 0 or (TYPE not in text and EVENT_TYPE not in text):
        return None
    try:  # raw_decode: a syslog line may carry a NUL or more text after the object
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("oslo.message"), str):
        try:
            value = json.loads(value["oslo.message"])
        except ValueError:
            return None
    if isinstance(value, dict) and value.get("event_type") == EVENT_TYPE:
        value = value.get("payload")
    return value if isinstance(value, dict) and value.get("type") == TYPE else None


def parse(value: Mapping[str, Any], where: str) -> Published:
    """A published checkpoint from its JSON object; raises ``ValueError`` if it is not one."""
    body = value.get("body")
    digest = value.get("digest")
    if not isinstance(body, str) or not isinstance(digest, str):
        raise ValueError("no signed body or digest")
    if hashlib.sha256(body.encode("utf-8")).hexdigest() != digest:
        raise ValueError("its digest is not the SHA-256 of its body: it was altered")
    signed = json.loads(body)
    if not isinstance(signed, dict):
        raise ValueError("its body is not an object")
    signature = value.get("signature")
    return Published(
        number=int(signed["number"]),
        seq=int(signed["seq"]),
        head=str(signed["head"]),
        prev=signed.get("prev"),
        time=str(signed.get("time")),
        key_id=signed.get("key_id"),
        digest=digest,
        body=body,
        signature=signature if isinstance(signature, str) else None,
        where=where,
    )


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        return [
            os.path.join(path, name)
            for name in sorted(os.listdir(path))
            if os.path.isfile(os.path.join(path, name))
        ]
    return [path]


def load(path: str, result: Comparison) -> list[Published]:
    """Every published checkpoint in the file ``path`` or the files of the directory ``path``.

    Raises ``OSError`` when ``path`` cannot be read; a line that claims to be
    a published checkpoint but is not a valid one is a problem in ``result``.
    """
    found = []
    for name in _files(path):
        with open(name, encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                value = _candidate(text)
                if value is None:
                    continue
                where = f"{name}:{number}"
                try:
                    found.append(parse(value, where))
                except (ValueError, KeyError, TypeError) as exc:
                    result.problem(f"{where}: not a valid published checkpoint: {exc}")
    return found


# -- comparing ---------------------------------------------------------------------------


def compare(
    published: Iterable[Published],
    trail: _Trail,
    *,
    public_key: Ed25519PublicKey | None,
    require_signed: bool = False,
    result: Comparison | None = None,
) -> Comparison:
    """Judge ``trail`` (the database) against ``published``; see the module docstring."""
    result = result or Comparison()
    by_number: dict[int, list[Published]] = {}
    for item in published:
        by_number.setdefault(item.number, []).append(item)
    result.published = sum(len(items) for items in by_number.values())
    if not by_number:
        result.problem("no published checkpoint found: is this the right file or directory?")
        return result
    _archived(by_number, trail.archived(), result)
    if not by_number:
        return result
    head, cp_head = trail.heads()
    stored = {cp.number: cp for cp in trail.checkpoints() if cp.number in by_number}
    result.trusted = _trusted(by_number, stored, head)
    unsigned = unchecked = 0
    for number in sorted(by_number):
        items = by_number[number]
        digests = {item.digest for item in items}
        if len(digests) > 1:
            result.problem(
                f"checkpoint #{number} was published {len(digests)} times with different "
                f"contents ({', '.join(i.where for i in items)}): the trail was rewound and "
                "continued",
                number=number,
            )
        for item in items:
            unsigned, unchecked = _signature(
                item, public_key, require_signed, result, unsigned, unchecked
            )
            _against_database(item, stored.get(number), head, result)
    _continuity(by_number, result)
    last = max(by_number)
    if cp_head.number > last:
        result.warnings.append(
            f"checkpoints #{last + 1} to #{cp_head.number} are in the database but not in the "
            "published copy (a sink that failed, or a copy taken earlier)"
        )
    missing = [n for n in range(min(by_number), last + 1) if n not in by_number]
    if missing:
        result.warnings.append(
            f"{len(missing)} checkpoint number(s) between #{min(by_number)} and #{last} are "
            f"not in the published copy (first: #{missing[0]})"
        )
    if unsigned:
        result.warnings.append(f"{unsigned} published checkpoint(s) are not signed")
    if unchecked:
        result.warnings.append(
            f"{unchecked} published signature(s) not checked: no public key given"
        )
    return result


def _trusted(
    by_number: Mapping[int, list[Published]], stored: Mapping[int, Checkpoint], head: ChainHead
) -> dict[int, int]:
    """For each published number, the seq of the last earlier one the database still matches."""
    trusted, last = {}, 0
    for number in sorted(by_number):
        trusted[number] = last
        items = by_number[number]
        cp = stored.get(number)
        if (
            len({i.digest for i in items}) == 1
            and cp is not None
            and cp.digest == items[0].digest
            and head.seq >= cp.seq
        ):
            last = cp.seq
    return trusted


def _signature(
    item: Published,
    public_key: Ed25519PublicKey | None,
    require_signed: bool,
    result: Comparison,
    unsigned: int,
    unchecked: int,
) -> tuple[int, int]:
    if item.signature is None:
        if require_signed:
            result.problem(f"{item.where}: checkpoint #{item.number} was published unsigned")
        return unsigned + 1, unchecked
    if public_key is None:
        return unsigned, unchecked + 1
    if not keys.verify_signature(public_key, item.body.encode("utf-8"), item.signature):
        result.problem(
            f"{item.where}: the signature of published checkpoint #{item.number} does not "
            "verify with the trusted key: it was forged",
            number=item.number,
        )
    return unsigned, unchecked


def _archived(
    by_number: dict[int, list[Published]], archived: Archived, result: Comparison
) -> None:
    """Leave out checkpoints archived with their records (``reaper audit archive``)."""
    older = [n for n in by_number if n < archived.checkpoint]
    for n in older:
        del by_number[n]
    if older:
        result.warnings.append(
            f"{len(older)} published checkpoint(s) before #{archived.checkpoint} were archived "
            "with their records (reaper audit archive): compare them with the bundles"
        )


def _against_database(
    item: Published, stored: Checkpoint | None, head: ChainHead, result: Comparison
) -> None:
    n = item.number
    if stored is None:
        result.problem(
            f"checkpoint #{n} (seq {item.seq}, {item.time}) was published ({item.where}) but "
            "is not in the database: checkpoints were deleted",
            number=n,
        )
    elif stored.digest != item.digest or stored.body != item.body:
        result.problem(
            f"checkpoint #{n} in the database (seq {stored.seq}) is not the one published "
            f"({item.where}: seq {item.seq}, {item.time}): it was rewritten",
            number=n,
        )
    else:
        result.matched += 1
    if head.seq < item.seq:
        result.problem(
            f"the chain ends at seq {head.seq}, but checkpoint #{n} was published at seq "
            f"{item.seq} ({item.time}): records after seq {head.seq} were deleted",
            number=n,
        )


def _continuity(by_number: Mapping[int, list[Published]], result: Comparison) -> None:
    """Each published checkpoint names the digest of the published one before it."""
    for number, items in sorted(by_number.items()):
        before = by_number.get(number - 1)
        if not before:
            continue
        expected = {b.digest for b in before}
        for item in items:
            if item.prev not in expected:
                result.problem(
                    f"published checkpoint #{number} ({item.where}) does not follow the "
                    f"published #{number - 1}: the trail was rewound and continued",
                    number=number,
                )


def merge(report: VerifyReport, result: Comparison) -> None:
    """Add ``result`` to ``report``: its problems fail the verification."""
    for problem in result.problems:
        report.problems.append(problem)
        report.problem_count += 1
        seq = problem.seq
        if seq is not None and (report.first_bad_seq is None or seq < report.first_bad_seq):
            report.first_bad_seq = seq
    report.warnings.extend(result.warnings)
    report.warnings.append(
        f"compared with {result.published} published checkpoint(s); "
        f"{result.matched} match the database"
    )
