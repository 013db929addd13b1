"""``reaper audit show|verify|export|archive|keygen``: the operator's view of the trail.

``verify`` exits 1 on any problem, so it can run from cron or CI and page
someone; its warnings (unsigned or stale checkpoints) do not fail it.
``export`` writes a bundle that ``verify --bundle`` checks without the
database, on any machine with reaper installed. ``archive`` is in
:mod:`reaper.cli.auditarchive`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from oslo_config import cfg

from reaper.audit import export, keys, published
from reaper.audit.chain import ChainRecord
from reaper.audit.parallel import verify_store
from reaper.audit.repository import AuditRepository
from reaper.audit.trail import AuditTrail
from reaper.audit.verify import VerifyReport
from reaper.cli import exitcodes
from reaper.cli.cells import cell, when
from reaper.model import utcnow
from reaper.store import Store

if TYPE_CHECKING:
    from reaper.cli.main import ReaperApp

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """``2024-05-01``, ``2024-05-01T12:00:00Z`` or a relative ``90m`` / ``2h`` / ``7d``."""
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return (now or utcnow()) - dt.timedelta(**{unit: amount})
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO 8601 time nor a duration like 30m, 2h, 7d"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _conf(cmd: Command) -> cfg.ConfigOpts:
    """reaper's configuration, which ReaperApp builds for its commands."""
    return cast("ReaperApp", cmd.app).conf


def _open_store(cmd: Command) -> Store:
    """The existing store: reading the trail never creates an empty one."""
    return cast("ReaperApp", cmd.app).open_store(create=False)


def _public_key(cmd: Command, path: str | None) -> Ed25519PublicKey | None:
    """``--public-key``, else the public half of the configured signing key."""
    if path:
        return keys.load_public_key(path)
    configured = _conf(cmd).audit.signing_key_file
    if configured and os.path.exists(configured):
        return keys.load_public_key(configured)
    return None


class AuditShow(Lister):
    """Show audit records, newest first."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    COLUMNS = (
        "Seq",
        "Time",
        "Action",
        "Outcome",
        "Target Type",
        "Target ID",
        "Tombstone ID",
        "Reason",
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--tombstone", metavar="ID", help="Only records of this tombstone.")
        parser.add_argument(
            "--resource",
            metavar="ID",
            help="Only records whose target is this resource or identity.",
        )
        parser.add_argument(
            "--since",
            metavar="TIME",
            type=parse_since,
            help="Only records from this time on: ISO 8601, or a duration back from now (2h, 7d).",
        )
        parser.add_argument(
            "--limit", metavar="N", type=_positive, default=1000, help="At most N records (1000)."
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Add the whole record (CADF event and reaper's fields) as a column.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Iterable[Any]]:
        with _open_store(self) as store:
            records = list(
                AuditRepository(store.db).find(
                    tombstone_id=parsed_args.tombstone,
                    target_id=parsed_args.resource,
                    since=parsed_args.since,
                    limit=parsed_args.limit + 1,
                    newest_first=True,
                )
            )
        if len(records) > parsed_args.limit:
            records = records[: parsed_args.limit]
            self.app.stderr.write(
                f"showing the newest {parsed_args.limit} records; "
                "narrow with --since or raise --limit\n"
            )
        columns = list(self.COLUMNS) + (["Record"] if parsed_args.full else [])
        structured = parsed_args.formatter in ("json", "yaml")
        return columns, [self._row(r, parsed_args.full, structured) for r in records]

    @staticmethod
    def _row(rec: ChainRecord, full: bool, structured: bool) -> tuple[Any, ...]:
        body = json.loads(rec.body)
        reason = body.get("reason") or {}
        why = reason.get("reasonCode", "")
        if reason.get("policyId"):
            why = f"[{reason['policyId']}] {why}".strip()
        index = rec.columns
        row: list[Any] = [
            rec.seq,
            when(body.get("eventTime")),
            body.get("action"),
            body.get("outcome"),
            index.target_type if index else None,
            index.target_id if index else None,
            index.tombstone_id if index else None,
            why,
        ]
        if not structured:
            row = [cell(value) for value in row]
        if full:
            row.append(body if structured else json.dumps(body, indent=2, sort_keys=True))
        return tuple(row)


class AuditVerify(ShowOne):
    """Verify the audit chain and its checkpoints; exit 1 on any problem."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    _report: VerifyReport | None = None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--from",
            dest="from_seq",
            metavar="SEQ",
            type=_positive,
            default=1,
            help="First record to verify, by sequence number (the Seq of `reaper audit show`; "
            "default 1). The chain is checked from this record's stored head on.",
        )
        parser.add_argument(
            "--to",
            dest="to_seq",
            metavar="SEQ",
            type=_positive,
            default=None,
            help="Last record to verify (default: the newest). A later tail is not checked.",
        )
        parser.add_argument(
            "--public-key",
            metavar="FILE",
            help="PEM public key that checkpoints must be signed with (default: the public "
            "half of [audit] signing_key_file; for a bundle, the bundle's own key).",
        )
        parser.add_argument(
            "--bundle",
            metavar="DIR",
            help="Verify an exported bundle instead of the database (needs no database).",
        )
        parser.add_argument(
            "--against",
            metavar="FILE|DIR",
            help="Also compare the database with the checkpoints published outside it "
            "([audit] checkpoint_sinks): a checkpoint file, a syslog or SIEM export, or a "
            "directory of them. A deleted tail, deleted or rewritten checkpoints and a "
            "rewound head are problems.",
        )
        parser.add_argument(
            "--require-signed",
            action="store_true",
            help="Treat unsigned checkpoints as problems, not warnings.",
        )
        parser.add_argument(
            "--workers",
            metavar="N",
            type=int,
            default=None,
            help="Processes that hash and parse records in parallel (default: chosen for "
            "the trail's length and this machine; 0: none).",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Iterable[Any]]:
        if parsed_args.bundle:
            if parsed_args.from_seq != 1 or parsed_args.to_seq is not None:
                raise ValueError("--from/--to apply to the database, not to --bundle")
            if parsed_args.against:
                raise ValueError("--against compares the database, not a --bundle")
            key = keys.load_public_key(parsed_args.public_key) if parsed_args.public_key else None
            report = export.verify_bundle(
                parsed_args.bundle, public_key=key, require_signed=parsed_args.require_signed
            )
        else:
            conf = _conf(self)
            with _open_store(self) as store:
                report = verify_store(
                    AuditRepository(store.db),
                    public_key=_public_key(self, parsed_args.public_key),
                    require_signed=parsed_args.require_signed,
                    from_seq=parsed_args.from_seq,
                    to_seq=parsed_args.to_seq,
                    checkpoint_interval=conf.audit.checkpoint_interval,
                    now=utcnow(),
                    workers=parsed_args.workers,
                )
                if parsed_args.against:
                    self._against(parsed_args, store, report)
        self._report = report
        return self._present(report, structured=parsed_args.formatter in ("json", "yaml"))

    def _against(self, args: argparse.Namespace, store: Store, report: VerifyReport) -> None:
        """Judge the database against the published checkpoints in ``--against``."""
        result = published.Comparison()
        try:
            found = published.load(args.against, result)
        except OSError as exc:
            raise ValueError(
                f"--against {args.against}: cannot read it ({exc.strerror or exc})"
            ) from exc
        published.compare(
            found,
            AuditRepository(store.db),
            public_key=_public_key(self, args.public_key),
            require_signed=args.require_signed,
            result=result,
        )
        published.merge(report, result)

    @staticmethod
    def _present(report: VerifyReport, *, structured: bool) -> tuple[Sequence[str], Iterable[Any]]:
        first = report.first_problem
        problems = [str(p) for p in report.problems]
        if report.problem_count > len(problems):
            problems.append(f"... and {report.problem_count - len(problems)} more")
        fields: dict[str, Any] = {
            "Result": "OK" if report.ok else "FAILED",
            "Records": report.records,
            "First Seq": report.first_seq,
            "Last Seq": report.last_seq,
            "Head": report.head,
            "From Checkpoint": report.from_checkpoint,
            "Checkpoints": report.checkpoints,
            "Signatures Verified": report.signatures_verified,
            "Problems": report.problem_count,
            "First Bad Seq": report.first_bad_seq,
            "Reason": first.message if first else "",
            "Details": problems if structured else "\n".join(problems),
            "Warnings": report.warnings if structured else "\n".join(report.warnings),
        }
        if not structured:
            fields = {name: cell(value) for name, value in fields.items()}
        return tuple(fields), tuple(fields.values())

    def run(self, parsed_args: argparse.Namespace) -> int:
        self._report = None
        result = super().run(parsed_args)
        if self._report is not None and not self._report.ok:
            return 1
        return result


class AuditExport(ShowOne):
    """Export the audit trail as a bundle that verifies offline."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--out", metavar="DIR", required=True, help="New or empty directory.")
        parser.add_argument(
            "--no-checkpoint",
            action="store_true",
            help="Do not write a checkpoint first (for a read-only database account).",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Iterable[Any]]:
        conf = _conf(self)
        with _open_store(self) as store:
            trail = AuditTrail.from_conf(store, conf)
            if not parsed_args.no_checkpoint:
                trail.checkpoint("export")
            result = export.export_bundle(
                trail.repository,
                parsed_args.out,
                public_key=trail.signer.public_key if trail.signer else None,
                checkpoint_interval=conf.audit.checkpoint_interval,
                exported_by=conf.host,
            )
        fields = {
            "Path": os.path.abspath(result.path),
            "Records": result.records,
            "Checkpoints": result.checkpoints,
            "Last Seq": result.chain_head.seq,
            "Head": result.chain_head.head,
            "Key ID": result.key_id,
        }
        if parsed_args.formatter not in ("json", "yaml"):
            fields = {name: cell(value) for name, value in fields.items()}
        return tuple(fields), tuple(fields.values())


class AuditKeygen(ShowOne):
    """Create the Ed25519 key that signs audit checkpoints."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--out",
            metavar="FILE",
            help="Private key file to create (default: [audit] signing_key_file, else "
            "$state_path/audit-signing-key.pem); the public key goes to FILE.pub.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace an existing key (old checkpoints "
            "then only verify with the old public key).",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Iterable[Any]]:
        conf = _conf(self)
        path = (
            parsed_args.out
            or conf.audit.signing_key_file
            or os.path.join(conf.state_path, "audit-signing-key.pem")
        )
        signer = keys.generate(path, overwrite=parsed_args.force)
        if path != conf.audit.signing_key_file:
            self.app.stderr.write(
                f"set [audit] signing_key_file = {os.path.abspath(path)} in reaper.conf\n"
            )
        fields = {
            "Private Key": os.path.abspath(path),
            "Public Key": os.path.abspath(path) + ".pub",
            "Key ID": signer.key_id,
        }
        return tuple(fields), tuple(fields.values())
