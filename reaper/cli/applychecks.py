"""What ``reaper apply`` checks before the first step, each a refusal with its exit status.

A plan file is read only if its hash matches and, with a signing key, its
signature verifies; Keystone is asked again that the identity is still gone;
the operator confirms the step table by typing the identity's id; and the
identity's tombstone is held while the plan runs, so a controller cannot
work on it at the same time. Each failure is a :class:`Stop`: one line and
the exit status ``reaper.cli.exitcodes`` documents.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from reaper.audit import keys, plansig
from reaper.cleanup import lease
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import Refused, VerificationError, verify_before_execute
from reaper.cli import exitcodes
from reaper.cli.planview import step_table
from reaper.model import Plan, PlanIntegrityError
from reaper.store import StateConflict, Store


class Stop(Exception):
    """The command ends here: ``message`` on stderr, exit ``status``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def load_plan(path: str, conf: Any, *, allow_unsigned: bool, stderr: TextIO) -> Plan:
    """The plan in ``path``, if its hash matches and its signature verifies."""
    try:
        with open(path, encoding="utf-8") if path != "-" else sys.stdin as f:
            data = json.load(f)
        plan = Plan.from_dict(data)
    except PlanIntegrityError as exc:
        raise Stop(f"refused: {exc}", exitcodes.REFUSED) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Stop(f"error: cannot read plan {path}: {exc}", exitcodes.ERROR) from exc
    key_file = conf.audit.signing_key_file
    try:
        public_key = keys.load_public_key(key_file) if key_file else None
        warning = plansig.check(data, public_key, allow_unsigned=allow_unsigned)
    except keys.SigningKeyError as exc:
        raise Stop(f"error: {exc}", exitcodes.ERROR) from exc
    except plansig.PlanSignatureError as exc:
        raise Stop(f"refused: {exc}", exitcodes.REFUSED) from exc
    if warning:
        stderr.write(warning + "\n")
    return plan


def reverify(
    seams: Cloud, plan: Plan, *, disabled_ok: bool, keystone_error: Callable[[Exception, Any], str]
) -> None:
    """Keystone, asked again just before applying: the identity is still gone."""
    try:
        verify_before_execute(seams.keystone, plan, disabled_ok=disabled_ok)
    except VerificationError as exc:
        raise Stop(f"error: {keystone_error(exc, seams.conn)}", exitcodes.ERROR) from exc
    except Refused as exc:
        raise Stop(f"refused: {exc.verification.refusal()}", exitcodes.REFUSED) from exc


def confirm(plan: Plan, *, unattended: bool, stdin: TextIO, stderr: TextIO) -> None:
    """The step table, then the identity's id typed at a terminal (unless ``unattended``)."""
    # Every step, what it acts on, whose it is and why, before anything is done:
    # the typed id confirms this table, and --yes leaves it in the log.
    stderr.write(step_table(plan))
    stderr.flush()
    if unattended:
        return
    kind, ident = plan.identity.kind.value, plan.identity.id
    if not (hasattr(stdin, "isatty") and stdin.isatty()):
        raise Stop(
            "refused: confirmation needs a terminal; pass --yes to apply unattended",
            exitcodes.REFUSED,
        )
    stderr.write(
        f"This will run {len(plan.steps)} steps on what {kind} {ident} left behind.\n"
        f"Type the {kind} id to confirm: "
    )
    stderr.flush()
    answer = stdin.readline().strip()
    if answer != ident:
        raise Stop("refused: confirmation did not match", exitcodes.REFUSED)


@contextlib.contextmanager
def claimed(
    store: Store, plan: Plan, settings: Settings, *, dry_run: bool
) -> Iterator[threading.Event]:
    """Hold the identity's tombstone while applying; refused while a controller does."""
    if dry_run:  # read-only: claims nothing
        yield threading.Event()
        return
    try:
        with lease.held_for_operator(
            store,
            plan.identity,
            settings.owner,
            lease=settings.lease,
            stop=threading.Event(),
        ) as halt:
            yield halt
    except StateConflict as exc:
        raise Stop(
            f"refused: {exc}; a controller is working on {plan.identity}, "
            "apply again once it is done (reaper tombstone show)",
            exitcodes.REFUSED,
        ) from exc
