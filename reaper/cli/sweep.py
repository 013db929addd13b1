"""``reaper sweep``: owners Keystone no longer knows, by difference or by a full scan."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from typing import Any

from cliff.lister import Lister

from reaper import cloud
from reaper.audit.trail import AuditTrail
from reaper.cleanup import sweep, waitlist
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cli import exitcodes
from reaper.cli.progress import discovery
from reaper.cli.stores import StoreProblem

COLUMNS = ("Kind", "Identity", "Resources", "Examples", "Tombstone")


class Sweep(Lister):
    """Find owners (projects, users) that no longer exist in Keystone.

    By default, by difference, as the controller sweeps: Keystone's project
    and user lists are compared with the identities reaper saw alive (the
    store's directory), a handful of requests. With --full, every resource
    listing of the cloud is read and each owner Keystone does not know is a
    candidate, whether or not reaper ever saw it, together with the
    difference when the store can be opened (it is not needed). Each
    candidate is verified with Keystone (404) before it is listed. Read
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
            "--full",
            action="store_true",
            help="List every resource of the cloud (the full scan), not only the identities "
            "reaper saw alive that Keystone no longer lists.",
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
        store = self._directory(create=parsed_args.open, needed=not parsed_args.full)
        remembered = store.directory.unsettled() if store is not None else []
        with discovery(self.app, "sweep"):
            found = sweep.find_orphans(
                Cloud.of(conn),
                min_age=dt.timedelta(seconds=min_age),
                remembered=remembered,
                full=parsed_args.full,
            )
        if parsed_args.full:
            how = "full scan (every resource listing of the cloud"
            how += f", and {len(remembered)} identities reaper saw alive)" if store else ")"
        else:
            how = (
                f"by difference ({len(remembered)} identities reaper saw alive, compared with "
                "Keystone's lists; --full lists every resource)"
            )
            if not remembered:
                self.app.stderr.write(
                    "the store's directory holds no identity reaper saw alive (the controller "
                    "records them): nothing to compare; `reaper sweep --full` lists the cloud\n"
                )
        orphans, incomplete = found.orphans, found.incomplete
        opened: dict[str, str] = {}
        woken = None
        held = sweep.over_limit(Settings.from_conf(conf), found)
        if parsed_args.open and held and not parsed_args.approve:
            self.app.stderr.write(f"HELD for approval: {held}; nothing opened (--approve)\n")
        elif parsed_args.open:
            store = store or self.app.open_store(create=True)
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
        self.app.stderr.write(
            f"{how}: {len(orphans)} orphaned owners{again}; {counter.total} requests\n"
        )
        if incomplete:
            self.app.stderr.write(
                f"incomplete: {', '.join(incomplete)} could not be read to the end; "
                "owners of what they hold may be missing (see the log), run again later\n"
            )
        return COLUMNS, rows

    def _directory(self, *, create: bool, needed: bool) -> Any:
        """The store whose directory the sweep compares with Keystone; None if not ``needed``.

        The full scan finds owners by what they own, so it runs without a
        store too (it then misses vanished owners that own nothing, and says
        so); the sweep by difference has nothing to compare without one.
        """
        try:
            return self.app.open_store(create=create)
        except StoreProblem as exc:
            if needed or create:
                raise StoreProblem(
                    f"{exc}; the sweep by difference needs the identities the controller saw "
                    "alive, or run `reaper sweep --full` to list every resource of the cloud"
                ) from exc
            self.app.stderr.write(
                f"{exc}: the full scan alone (owners that vanished owning nothing are missed)\n"
            )
            return None
