"""``reaper queue declare``: create reaper's notification queue before Keystone emits.

A deployment tool (the DevStack plugin, an Ansible role) runs this before it
turns Keystone's notifications on, so a deletion made before the first
start of ``reaper-controller`` waits in reaper's queue instead of reaching
only the queues that already existed. The queue is declared by
oslo.messaging itself (same name, bindings, durability and HA arguments as
the controller will use); anything that arrives during the few seconds the
listener runs is requeued, never consumed.

The pool queue dead-letters what the message driver cannot decode
(``[listener] dead_letter``, see ``events/deadletter.py``). A queue declared
by an older reaper, or with the other setting, cannot simply be redeclared
(RabbitMQ answers ``PRECONDITION_FAILED``): this command converts it without
losing a message (``events/upgrade.py``), once the controllers are stopped.
"""

from __future__ import annotations

import argparse

from cliff.command import Command

from reaper.cli import exitcodes
from reaper.events import upgrade
from reaper.events.listener import Listener, broker_url


class QueueDeclare(Command):
    """Declare reaper's notification queue (pool) and its bindings, then exit."""

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="Seconds to wait for the broker."
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        conf = self.app.conf
        pool = conf.listener.pool
        listener = self._declare(parsed_args.timeout)
        if listener is None:
            return exitcodes.ERROR
        url = broker_url(conf)  # known once oslo.messaging registered its options
        if not listener.dead_letter.converted and url is not None:
            routes = upgrade.bindings(conf)
            try:
                upgrade.hold(url, pool, routes)
            except upgrade.UpgradeRefused as exc:
                self.app.stderr.write(f"error: {exc}\n")
                return exitcodes.ERROR
            listener = self._declare(parsed_args.timeout)
            if listener is None or not listener.dead_letter.converted:
                self.app.stderr.write(
                    f"error: queue {pool} could not be declared again; its messages wait in "
                    f"{upgrade.holding(pool)}: run 'reaper queue declare' again\n"
                )
                return exitcodes.ERROR
            self.app.stderr.write(
                f"queue {pool} converted to dead-lettering "
                f"{'on' if listener.dead_lettering else 'off'}\n"
            )
        moved = upgrade.release(url, pool, upgrade.bindings(conf)) if url is not None else 0
        if moved:
            self.app.stderr.write(f"{moved} waiting message(s) moved into the new queue\n")
        dead = (
            f"; undecodable messages go to {listener.dead_letter.exchange}"
            if listener.dead_lettering
            else ""
        )
        self.app.stdout.write(
            f"queue {pool} declared on exchange {conf.listener.exchange} "
            f"(topics {', '.join(conf.listener.topics)}){dead}\n"
        )
        return exitcodes.OK

    def _declare(self, timeout: float) -> Listener | None:
        """Let oslo.messaging declare the queue, as the controller will; None if unconfirmed."""
        conf = self.app.conf
        listener = Listener(conf, consume=False)
        try:
            bound = listener.start(bound_timeout=timeout)
        finally:
            listener.stop()
        if not bound:
            self.app.stderr.write(f"queue {conf.listener.pool} could not be confirmed\n")
            return None
        return listener
