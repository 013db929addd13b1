"""``reaper replay FILE.json``: feed a saved notification through the listener's path.

The file holds one notification as captured (``ctxt``, ``publisher_id``,
``event_type``, ``payload``, ``metadata``; the shape of
``tests/fixtures/keystone/*.json``). It is parsed, deduplicated, persisted
and audited exactly as if it had come off the bus; with ``--process`` the
resulting tombstone is then worked on in this process, through the same
worker code as the controller (verify first: a replayed notification for
an identity that still exists is refused, like a forged one).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from cliff.show import ShowOne

from reaper import cloud
from reaper.audit.trail import AuditTrail
from reaper.cleanup.lifecycle import Reopener
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.worker import Worker
from reaper.cli import exitcodes
from reaper.events import keystone
from reaper.events.listener import IdentityEndpoint
from reaper.model import IdentityEvent, TombstoneState
from reaper.policy import configured_policy_paths, load_policies
from reaper.store import Store

COLUMNS = ("Event Type", "Identity", "Message ID", "Tombstone", "State", "Reason")


class Replay(ShowOne):
    """Feed a saved notification through the controller's path; --process works on it."""

    _epilog = exitcodes.epilog(
        exitcodes.OK, exitcodes.ERROR, exitcodes.FAILED, exitcodes.HELD, exitcodes.REFUSED
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("file", metavar="FILE", help="A saved notification (JSON).")
        parser.add_argument(
            "--process",
            action="store_true",
            help="Also verify, plan and (unless dry_run) execute it now, as the controller would.",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Sequence[Any]]:
        conf = self.app.conf
        self._status = exitcodes.OK
        message = read_notification(parsed_args.file)
        store = self.app.open_store(create=True)
        trail = AuditTrail.from_conf(store, conf)
        rules = keystone.Rules.from_conf(conf)
        endpoint = IdentityEndpoint(store, trail, reopener=Reopener(store), rules=rules)
        parsed = keystone.classify(
            message.get("ctxt"),
            message.get("publisher_id"),
            message.get("event_type"),
            message.get("payload"),
            message.get("metadata"),
            rules=rules,
        )
        if isinstance(parsed, keystone.Rejected):
            self.app.stderr.write(f"rejected ({parsed.code}): {parsed.reason}\n")
            self._status = exitcodes.REFUSED
            return COLUMNS, (parsed.event_type or "", "", "", "", "rejected", parsed.reason)
        if _recorded_before(store, parsed):
            # A redelivery: the listener adds nothing for it, and neither does replay.
            tombstone = store.tombstones.find(parsed.identity)
            assert tombstone is not None
            self.app.stderr.write(
                f"duplicate: message {parsed.message_id} from {parsed_args.file} was already "
                f"recorded on tombstone {tombstone.id}; nothing added\n"
            )
            return COLUMNS, (
                parsed.event_type,
                str(parsed.identity),
                parsed.message_id or "",
                tombstone.id,
                tombstone.state.value,
                "duplicate (already recorded)",
            )
        endpoint.persist([message])
        tombstone = store.tombstones.find(parsed.identity)
        assert tombstone is not None
        if parsed_args.process:
            worker = Worker(
                Settings.from_conf(conf),
                store=store,
                trail=trail,
                cloud=lambda: Cloud.of(
                    cloud.connect(conf, read_only=False, source=self.app.credentials)
                ),
                policies=lambda: load_policies(configured_policy_paths(conf)),
            )
            claimed = store.tombstones.claim(tombstone.id, worker.owner)
            if claimed.state in (TombstoneState.REFUSED, TombstoneState.COMPLETE):
                tombstone = store.tombstones.release(claimed.id, worker.owner)
            else:
                tombstone = worker.process(claimed)
            if tombstone.state is TombstoneState.REFUSED:
                self._status = exitcodes.REFUSED
            elif tombstone.state is TombstoneState.PARTIAL:
                self._status = exitcodes.FAILED
            elif tombstone.state is TombstoneState.HELD:
                self._status = exitcodes.HELD
        return COLUMNS, (
            parsed.event_type,
            str(parsed.identity),
            parsed.message_id or "",
            tombstone.id,
            tombstone.state.value,
            tombstone.reason,
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        super().run(parsed_args)
        return self._status


def read_notification(path: str) -> dict[str, Any]:
    """The one notification saved in ``path``; an error naming the file otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except OSError as exc:
        raise exitcodes.OperatorError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise exitcodes.OperatorError(
            f"{path} is not JSON ({exc}): save one notification as captured"
        ) from exc
    if not isinstance(record, dict):
        raise exitcodes.OperatorError(
            f"{path} holds a JSON {type(record).__name__}, not one notification (an object "
            "with event_type, payload, metadata, as in tests/fixtures/keystone/)"
        )
    return record


def _recorded_before(store: Store, event: IdentityEvent) -> bool:
    """Whether this message id is already a trigger of the identity's tombstone."""
    if not event.message_id:
        return False
    tombstone = store.tombstones.find(event.identity)
    return tombstone is not None and any(
        t.message_id == event.message_id for t in tombstone.triggers
    )
