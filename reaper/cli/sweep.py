"""``reaper sweep``: owners of resources that Keystone no longer knows, cloud-wide."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence

from cliff.lister import Lister

from reaper import cloud
from reaper.audit.trail import AuditTrail
from reaper.cleanup import sweep, waitlist
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cli import exitcodes
from reaper.cli.progress import discovery

COLUMNS = ("Kind", "Identity", "Resources", "Examples", "Tombstone")


class Sweep(Lister):
    """Find owners (projects, users) of resources that no longer exist in Keystone.

    Each candidate is verified with Keystone (404) before it is listed. Read
    only, unless --open: then a tombstone (trigger ``sweep``) is opened for
    each, for the controller (or ``reaper apply``) to clean up. More orphans
    than ``[sweep] max_orphans`` / ``max_orphan_fraction`` allow are opened
    only with --approve, after the operator has reviewed the list. With
    --open, the waiting tombstones (what live projects used) are re-checked
    too: each whose kept resource no live project uses any more is sent
    round again, for the controller to plan and reap.
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--min-age",
            type=int,
            default=None,
            metavar="SECONDS",
            help="Ignore resources younger than this (default: [sweep] min_age).",
        )
        parser.add_argument(
            "--open", action="store_true", help="Open a tombstone for each orphaned owner."
        )
        parser.add_argument(
            "--approve",
            action="store_true",
            help="With --open: open them even beyond [sweep] max_orphans/max_orphan_fraction.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], list]:
        conf = self.app.conf
        conn = self.app.connect(read_only=True)
        min_age = conf.sweep.min_age if parsed_args.min_age is None else parsed_args.min_age
        with discovery(self.app, "sweep"):
            found = sweep.find_orphans(Cloud.of(conn), min_age=dt.timedelta(seconds=min_age))
        orphans, incomplete = found.orphans, found.incomplete
        opened: dict[str, str] = {}
        woken = None
        held = sweep.over_limit(Settings.from_conf(conf), found)
        if parsed_args.open and held and not parsed_args.approve:
            self.app.stderr.write(f"HELD for approval: {held}; nothing opened (--approve)\n")
        elif parsed_args.open:
            store = self.app.open_store(create=True)
            store.directory.record(found.known)
            for orphan, _ in sweep.open_tombstones(store, orphans):
                found = store.tombstones.find(orphan.identity)
                opened[str(orphan.identity)] = found.id if found else ""
            trail = AuditTrail.from_conf(store, conf)
            woken = waitlist.recheck_all(store, trail, Cloud.of(conn))
        rows = [
            (
                o.identity.kind.value,
                o.identity.id,
                o.resources,
                ", ".join(o.examples),
                opened.get(str(o.identity), ""),
            )
            for o in orphans
        ]
        counter = cloud.counter_of(conn)
        again = "" if woken is None else f"; {woken} waiting cleanups sent round again"
        self.app.stderr.write(f"{len(orphans)} orphaned owners{again}; {counter.total} requests\n")
        if incomplete:
            self.app.stderr.write(
                f"incomplete: {', '.join(incomplete)} could not be read to the end; "
                "owners of what they hold may be missing (see the log), run again later\n"
            )
        return COLUMNS, rows
