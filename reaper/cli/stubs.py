"""Commands whose pipeline stage does not exist yet.

They are registered so ``reaper --help`` shows the whole operator surface
from the start; each says which stage is missing and exits non-zero, so no
script can mistake a stub for success.
"""

from __future__ import annotations

import argparse

from cliff.command import Command

from reaper.cli.exitcodes import NOT_IMPLEMENTED as EXIT_NOT_IMPLEMENTED


class _Stub(Command):
    #: What the command will do, shown in ``reaper help``.
    summary = ""

    def get_description(self) -> str:
        return self.summary

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        # Accept whatever the finished command will accept, so the answer is
        # "not implemented" rather than a usage error about an option.
        parser.parse_args = lambda args=None, namespace=None: parser.parse_known_args(  # type: ignore[method-assign]
            args, namespace
        )[0]
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        name = self.cmd_name if hasattr(self, "cmd_name") else type(self).__name__
        self.app.stderr.write(f"reaper {name}: not implemented yet.\n")
        return EXIT_NOT_IMPLEMENTED


class Sweep(_Stub):
    summary = "Find resources whose owner no longer exists in Keystone."


class Approve(_Stub):
    summary = "Release a tombstone held by a blast-radius limit."


class TombstoneList(_Stub):
    summary = "List tombstones and their state."


class TombstoneShow(_Stub):
    summary = "Show one tombstone."


class Replay(_Stub):
    summary = "Feed a saved notification through the controller's path."
