"""``reaper audit archive``: retention of the audit trail.

Writes the oldest records to a bundle in ``reaper audit export``'s format,
verifies it from disk, and only then prunes them from the store
(:mod:`reaper.audit.retention` holds the rules). Refusals exit 4 and delete
nothing; a bundle that cannot be written is an operator error (exit 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
from collections.abc import Iterable, Sequence
from typing import Any

from cliff.show import ShowOne

from reaper.audit import export, retention
from reaper.audit.trail import AuditTrail
from reaper.cli import exitcodes
from reaper.cli.audit import _conf, _open_store, parse_since
from reaper.cli.cells import cell


class AuditArchive(ShowOne):
    """Archive the audit records before a date to a verified bundle, then prune them.

    Only a prefix of the chain up to a checkpoint signed by [audit]
    signing_key_file is archived, and never a record of an unfinished
    tombstone or one dated from DATE on. The bundle is verified from disk
    before anything is deleted; the store then verifies from that checkpoint.
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR, exitcodes.REFUSED)

    _status = exitcodes.OK

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--before",
            metavar="TIME",
            type=parse_since,
            required=True,
            help="Archive records dated before this: ISO 8601, or a duration back from now (90d).",
        )
        parser.add_argument(
            "--to", metavar="DIR", required=True, help="New or empty directory for the bundle."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only say what would be archived; write and delete nothing.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Iterable[Any]]:
        conf = _conf(self)
        with _open_store(self) as store:
            trail = AuditTrail.from_conf(store, conf)
            try:
                if parsed_args.dry_run:
                    result = None
                    cut = self._cut(trail, parsed_args.before)
                else:
                    result = retention.archive(
                        trail,
                        parsed_args.before,
                        parsed_args.to,
                        operator=f"{getpass.getuser()}@{conf.host}",
                        checkpoint_interval=conf.audit.checkpoint_interval,
                    )
                    cut = result.cut
            except retention.ArchiveRefused as exc:
                self.app.stderr.write(f"refused: {exc}\n")
                self._status = exitcodes.REFUSED
                return ("Result",), ("refused",)
            except (export.BundleError, OSError) as exc:
                raise exitcodes.OperatorError(
                    f"--to {parsed_args.to}: cannot write the bundle ({exc}); nothing was deleted"
                ) from exc
        self._status = exitcodes.OK
        idle = retention.nothing_to_archive(cut)
        if idle is not None:
            self.app.stderr.write(f"nothing to archive: {idle}\n")
        cp = cut.checkpoint
        fields = {
            "Result": "nothing to archive"
            if cp is None
            else ("would archive" if result is None else "archived"),
            "Bundle": os.path.abspath(result.bundle) if result and result.bundle else None,
            "From Seq": cut.first,
            "To Seq": cp.seq if cp else None,
            "Records": cut.records,
            "Checkpoint": cp.number if cp else None,
            "Stopped By": f"open tombstone {cut.open_tombstone}" if cut.open_tombstone else "",
        }
        if parsed_args.formatter not in ("json", "yaml"):
            fields = {name: cell(value) for name, value in fields.items()}
        return tuple(fields), tuple(fields.values())

    @staticmethod
    def _cut(trail: AuditTrail, before: dt.datetime) -> retention.Cut:
        if trail.signer is None:
            raise retention.ArchiveRefused("[audit] signing_key_file is not set")
        cut = retention.find_cut(trail.repository, trail.store.db, before, trail.signer.public_key)
        why = retention.refusal(cut)
        if why is not None:
            raise retention.ArchiveRefused(why)
        return cut

    def run(self, parsed_args: argparse.Namespace) -> int:
        self._status = exitcodes.OK
        result = super().run(parsed_args)
        return self._status if result == 0 else result
