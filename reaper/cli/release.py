"""``reaper release TOMBSTONE RESOURCE_ID --to-project L | --forget``: end one wait, on record."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Sequence
from typing import Any

from cliff.show import ShowOne

from reaper.actions import handover
from reaper.audit.trail import AuditTrail
from reaper.cleanup import release, waiting
from reaper.cli import exitcodes
from reaper.store import NotFound

COLUMNS = ("Tombstone", "State", "Resource", "Name", "Decision", "Done", "Reason")


class Release(ShowOne):
    """Stop waiting for a resource a live project uses: hand it over, or keep it for good.

    A waiting tombstone keeps what live projects use (``reaper tombstone show
    ID --waiting``); the sweep reaps it once unused. ``--to-project L`` makes
    L its owner where the service allows an administrator to (Glance images;
    Neutron is asked, and says when it will not). ``--forget`` tags it
    ``reaper:keep`` (a metadata key on a volume): it is never reaped, and what
    it contains is kept with it. Either decision is audited with your name,
    and the tombstone is planned again (the new plan follows the first).
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR, exitcodes.REFUSED)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("tombstone", metavar="TOMBSTONE", help="A waiting tombstone's id.")
        parser.add_argument(
            "resource", metavar="RESOURCE_ID", help="The id of a resource it waits for."
        )
        how = parser.add_mutually_exclusive_group(required=True)
        how.add_argument(
            "--to-project",
            metavar="PROJECT_ID",
            help="Hand it to this live project (one that uses it): its owner changes.",
        )
        how.add_argument(
            "--forget",
            action="store_true",
            help="Keep it for good: tag it reaper:keep and stop waiting for it.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Sequence[Any]]:
        store = self.app.open_store()
        trail = AuditTrail.from_conf(store, self.app.conf)
        to_project = parsed_args.to_project
        conns: list[Any] = []

        def act(kept: waiting.Kept) -> str:
            conn = self.app.connect(read_only=False)
            conns.append(conn)
            if to_project is None:
                return handover.keep_for_good(conn, kept.ref)
            if not _alive(conn, to_project):
                raise release.ReleaseRefused(f"project {to_project} does not exist in Keystone")
            return handover.hand_over(conn, kept.ref, to_project)

        try:
            released = release.release(
                store,
                trail,
                parsed_args.tombstone,
                parsed_args.resource,
                operator=getpass.getuser(),
                to_project=to_project,
                act=act,
            )
        except NotFound:
            self.app.stderr.write(f"error: no tombstone {parsed_args.tombstone}\n")
            self._status = exitcodes.ERROR
            return COLUMNS, ("",) * len(COLUMNS)
        except release.ReleaseRefused as exc:
            self.app.stderr.write(f"refused: {exc}\n")
            self._status = exitcodes.REFUSED
            return COLUMNS, ("",) * len(COLUMNS)
        self._status = exitcodes.OK
        t, kept = released.tombstone, released.kept
        decision = f"handed to project {to_project}" if to_project else "kept for good"
        return COLUMNS, (
            t.id,
            t.state.value,
            str(kept.ref),
            kept.name or "",
            decision,
            released.done,
            t.reason,
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return getattr(self, "_status", exitcodes.OK)


def _alive(conn: Any, project_id: str) -> bool:
    from openstack import exceptions as sdk_exc

    try:
        conn.identity.get_project(project_id)
    except sdk_exc.NotFoundException:
        return False
    return True
