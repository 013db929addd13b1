"""``reaper serve``: run the controller in the foreground (same as ``reaper-controller``)."""

from __future__ import annotations

import argparse

from cliff.command import Command

from reaper import controller
from reaper.cli import exitcodes


class Serve(Command):
    """Run the controller: listener, workers, sweep, /healthz and /metrics.

    SIGTERM finishes the steps in flight and exits 0; SIGHUP reloads policies.
    """

    _epilog = exitcodes.epilog(exitcodes.OK, exitcodes.ERROR)

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        return controller.run(self.app.conf, os_cloud=self.app.options.os_cloud)
