"""Bundles: the trail as plain files that verify without the database.

An auditor, or an incident responder on another machine, gets a directory::

    manifest.json       what was exported, where the chain ended, file digests
    records.jsonl       one record per line: seq, prev_head, head, record_hash, record
                        (and stream, pos for a record of a trail written in streams)
    checkpoints.jsonl   one signed checkpoint per line
    public_key.pem      the checkpoint key's public half (if checkpoints are signed)

``reaper audit verify --bundle DIR`` checks it with the same verifier as the
database. Trust comes from the signatures, not from the files: the public
key should be obtained independently (``--public-key``), since whoever can
rewrite a bundle can also replace the key inside it. Export writes a fresh
checkpoint first, so the bundle's end is itself signed.

Writing streams (one record in memory at a time); the manifest is written
last, so a bundle without one is an interrupted export.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reaper import canonical
from reaper.audit import keys
from reaper.audit.chain import ChainHead, ChainRecord, StreamHead
from reaper.audit.checkpoint import Checkpoint, CheckpointHead
from reaper.audit.repository import AuditRepository
from reaper.audit.verify import Problem, ProblemKind, Verifier, VerifyReport
from reaper.model import utcnow

FORMAT = "reaper-audit-bundle/1"
MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
PUBLIC_KEY = "public_key.pem"


class BundleError(Exception):
    """The directory is not a bundle that can be read at all."""


@dataclass(frozen=True)
class ExportResult:
    path: str
    records: int
    checkpoints: int
    chain_head: ChainHead
    key_id: str | None


class _HashingWriter:
    """Writes lines to a file and hashes exactly the bytes written."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.sha = hashlib.sha256()
        self.lines = 0

    def write(self, value: Any) -> None:
        line = canonical.dumps(value) + b"\n"
        self._f.write(line)
        self.sha.update(line)
        self.lines += 1


def _embed(body: str, key: str) -> dict[str, Any]:
    """``{key: body as JSON}``, or ``{"body": text}`` if re-encoding would change its bytes.

    Records are readable JSON in a bundle, but the hash is over exact bytes:
    a body that is not canonical (only possible if someone wrote it by hand)
    is carried verbatim so the bundle shows what the database holds.
    """
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"body": body}
    if canonical.dumps(parsed).decode("utf-8") == body:
        return {key: parsed}
    return {"body": body}


def export_bundle(
    audit: AuditRepository,
    out_dir: str,
    *,
    public_key: Ed25519PublicKey | None = None,
    checkpoint_interval: float | None = None,
    exported_by: str | None = None,
    upto: Checkpoint | None = None,
) -> ExportResult:
    """Write the stored trail, as of now, to ``out_dir`` (which must be empty or new).

    The stored trail starts after what was archived: a pruned store's bundle
    starts with the checkpoint the store starts from (``anchor_checkpoint``
    in the manifest), so it too verifies from a signed head. ``upto`` stops
    the bundle at that checkpoint (an archive): records up to its seq,
    checkpoints up to it, and it is the bundle's end.
    """
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    if os.listdir(out_dir):
        raise BundleError(f"{out_dir} is not empty; refusing to mix bundles")
    head, cp_head = audit.heads()
    if upto is not None:
        head = ChainHead(upto.seq, upto.head, upto.streams() or ())
        cp_head = CheckpointHead(upto.number, upto.digest)
    archived = audit.archived()
    # In streams, a record with a seq below the head's may be committed after the
    # head was read: it belongs to the next bundle, not this one.
    limits = {s.stream: s.pos for s in head.streams}
    with open(os.path.join(out_dir, RECORDS), "wb") as f:
        rec_writer = _HashingWriter(f)
        for rec in audit.records(archived.seq + 1, head.seq):
            at: dict[str, int] = {}
            if rec.stream is not None and rec.pos is not None:
                if limits and rec.pos > limits.get(rec.stream, 0):
                    continue
                at = {"stream": rec.stream, "pos": rec.pos}
            rec_writer.write(
                {
                    "seq": rec.seq,
                    **at,
                    "prev_head": rec.prev_head,
                    "head": rec.head,
                    "record_hash": rec.record_hash,
                    **_embed(rec.body, "record"),
                }
            )
    with open(os.path.join(out_dir, CHECKPOINTS), "wb") as f:
        cp_writer = _HashingWriter(f)
        for cp in audit.checkpoints(
            min_number=archived.checkpoint or None, max_number=cp_head.number
        ):
            cp_writer.write(
                {
                    "number": cp.number,
                    "digest": cp.digest,
                    "signature": cp.signature,
                    **_embed(cp.body, "checkpoint"),
                }
            )
    key_id = None
    if public_key is not None:
        key_id = keys.key_id(public_key)
        with open(os.path.join(out_dir, PUBLIC_KEY), "wb") as f:
            f.write(keys.public_pem(public_key))
    manifest = {
        "format": FORMAT,
        "created_at": utcnow(),
        "exported_by": exported_by,
        "from_seq": archived.seq + 1,
        "anchor_checkpoint": archived.checkpoint or None,
        "to_seq": head.seq,
        "records": rec_writer.lines,
        "checkpoints": cp_writer.lines,
        "chain_head": _chain_head(head),
        "checkpoint_head": {"number": cp_head.number, "digest": cp_head.digest},
        "key_id": key_id,
        "checkpoint_interval": checkpoint_interval,
        "files": {RECORDS: rec_writer.sha.hexdigest(), CHECKPOINTS: cp_writer.sha.hexdigest()},
    }
    with open(os.path.join(out_dir, MANIFEST), "wb") as f:
        f.write(json.dumps(canonical.jsonable(manifest), indent=2, sort_keys=True).encode())
        f.write(b"\n")
    return ExportResult(out_dir, rec_writer.lines, cp_writer.lines, head, key_id)


def _chain_head(head: ChainHead) -> dict[str, Any]:
    """The manifest's ``chain_head``: with ``streams`` ([stream, pos, seq, head]) if in streams."""
    out: dict[str, Any] = {"seq": head.seq, "head": head.head}
    if head.streams:
        out["streams"] = [list(s) for s in head.streams]
    return out


def _read_chain_head(value: Any) -> ChainHead:
    head = value if isinstance(value, dict) else {}
    try:
        streams = tuple(
            StreamHead(int(s[0]), int(s[1]), int(s[2]), str(s[3]))
            for s in head.get("streams") or []
        )
    except (ValueError, TypeError, IndexError):
        streams = ()
    return ChainHead(int(head.get("seq", 0)), str(head.get("head", "")), streams)


# -- reading -----------------------------------------------------------------


def read_manifest(bundle: str) -> dict[str, Any]:
    path = os.path.join(bundle, MANIFEST)
    try:
        with open(path, "rb") as f:
            manifest = json.load(f)
    except FileNotFoundError as exc:
        raise BundleError(
            f"{bundle} has no {MANIFEST}: not a bundle, or an interrupted export"
        ) from exc
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path} is not a {FORMAT} manifest")
    return manifest


def _lines(path: str, on_error: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            try:
                value = json.loads(line)
                if not isinstance(value, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                on_error.append(
                    Problem(
                        ProblemKind.BUNDLE,
                        f"line {number} of {os.path.basename(path)} is not valid JSON ({exc})",
                    )
                )
                continue
            yield number, value


def _body(entry: dict[str, Any], key: str) -> str:
    if "body" in entry and isinstance(entry["body"], str):
        return entry["body"]
    return canonical.dumps(entry.get(key)).decode("utf-8")


def bundle_records(bundle: str, errors: list[Problem]) -> Iterator[ChainRecord]:
    for _, entry in _lines(os.path.join(bundle, RECORDS), errors):
        yield ChainRecord(
            seq=int(entry.get("seq", -1)),
            body=_body(entry, "record"),
            record_hash=str(entry.get("record_hash", "")),
            prev_head=str(entry.get("prev_head", "")),
            head=str(entry.get("head", "")),
            stream=_int_or_none(entry.get("stream")),
            pos=_int_or_none(entry.get("pos")),
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def bundle_checkpoints(bundle: str, errors: list[Problem]) -> Iterator[Checkpoint]:
    for _, entry in _lines(os.path.join(bundle, CHECKPOINTS), errors):
        body = _body(entry, "checkpoint")
        try:
            payload = json.loads(body)
            when = dt.datetime.fromisoformat(str(payload.get("time")).replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            payload, when = {}, dt.datetime.fromtimestamp(0, dt.timezone.utc)
        yield Checkpoint(
            number=int(entry.get("number", payload.get("number", -1))),
            seq=payload.get("seq", -1),
            head=payload.get("head", ""),
            created_at=when,
            reason=payload.get("reason", ""),
            tombstone_id=payload.get("tombstone_id"),
            key_id=payload.get("key_id"),
            body=body,
            digest=str(entry.get("digest", "")),
            signature=entry.get("signature"),
        )


def _file_digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def verify_bundle(
    bundle: str,
    *,
    public_key: Ed25519PublicKey | None = None,
    require_signed: bool = False,
) -> VerifyReport:
    """Verify an exported bundle offline; ``public_key`` overrides the bundle's own."""
    manifest = read_manifest(bundle)
    warnings: list[str] = []
    bundled_key_path = os.path.join(bundle, PUBLIC_KEY)
    if public_key is None and os.path.exists(bundled_key_path):
        public_key = keys.load_public_key(bundled_key_path)
        warnings.append(
            "checkpoint signatures were checked with the bundle's own public key; pass "
            "--public-key with a key obtained independently to rule out a replaced bundle"
        )
    errors: list[Problem] = []
    for name, expected in (manifest.get("files") or {}).items():
        path = os.path.join(bundle, os.path.basename(name))
        if not os.path.exists(path):
            errors.append(Problem(ProblemKind.BUNDLE, f"{name} is missing from the bundle"))
        elif _file_digest(path) != expected:
            errors.append(
                Problem(ProblemKind.BUNDLE, f"{name} does not match the manifest's digest")
            )
    cp_head = manifest.get("checkpoint_head") or {}
    verifier = Verifier(
        public_key=public_key,
        require_signed=require_signed,
        checkpoint_interval=manifest.get("checkpoint_interval"),
    )
    from_seq = int(manifest.get("from_seq") or 1)
    checkpoints = bundle_checkpoints(bundle, errors)
    anchor = None
    if from_seq > 1 and manifest.get("anchor_checkpoint"):
        # A bundle of a pruned trail starts from the checkpoint before its first record.
        anchor = next(checkpoints, None)
        if anchor is None or anchor.seq != from_seq - 1:
            errors.append(
                Problem(
                    ProblemKind.BUNDLE,
                    f"the bundle starts at seq {from_seq} but its first checkpoint is not "
                    f"at seq {from_seq - 1}",
                )
            )
        if anchor is not None:
            checkpoints = itertools.chain([anchor], checkpoints)
            if anchor.seq != from_seq - 1:
                anchor = None
    report = verifier.run(
        bundle_records(bundle, errors),
        checkpoints,
        start_seq=from_seq,
        anchor=anchor,
        chain_head=_read_chain_head(manifest.get("chain_head")),
        checkpoint_head=CheckpointHead(int(cp_head.get("number", 0)), cp_head.get("digest")),
    )
    for problem in errors:
        verifier.problem(problem.kind, problem.message, seq=problem.seq)
    report.warnings[:0] = warnings
    return report
