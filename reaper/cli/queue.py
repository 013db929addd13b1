"""``reaper queue declare``: create reaper's notification queue before Keystone emits.

A deployment tool (the DevStack plugin, an Ansible role) runs this before it
turns Keystone's notifications on, so a deletion made before the first
start of ``reaper-controller`` waits in reaper's queue instead of reaching
only the queues that already existed. The queue is declared by
oslo.messaging itself (same name, bindings, durability and HA arguments as
the controller will use); anything that arrives during the few seconds the
listener runs is requeued, never consumed.
"""

from __future__ import annotations

import argparse
from typing import Any

import oslo_messaging
from cliff.command import Command

from reaper.cli import exitcodes
from reaper.events.listener import Listener


class _Requeue:
    """An endpoint that hands every message back: declaring must not consume."""

    filter_rule = None

    def info(self, messages: Any) -> Any:
        return oslo_messaging.NotificationResult.REQUEUE

    warn = error = audit = critical = debug = sample = info


class QueueDeclare(Command):
    """Declare reaper's notification queue (pool) and its bindings, then exit."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="Seconds to wait for the broker."
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        conf = self.app.conf
        listener = Listener(conf, _Requeue())  # type: ignore[arg-type]
        listener.server.start()
        try:
            bound = listener.wait_bound(parsed_args.timeout)
        finally:
            listener.stop()
        if not bound:
            self.app.stderr.write(f"queue {conf.listener.pool} could not be confirmed\n")
            return exitcodes.ERROR
        self.app.stdout.write(
            f"queue {conf.listener.pool} declared on exchange {conf.listener.exchange} "
            f"(topics {', '.join(conf.listener.topics)})\n"
        )
        return exitcodes.OK
