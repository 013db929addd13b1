"""An operator's mistake ends a command with one ``error: ...`` line, under either shell.

``reaper`` and ``openstack reaper`` run the same command classes; both end
an :class:`~reaper.cli.exitcodes.OperatorError` (and a failure that means
the credentials cannot be used) the same way: its message alone on stderr,
exit 1. Left to the shell, cliff would log it (as a JSON line when stderr
is not a terminal), and OSC with its exception's class name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO

from reaper import credentials
from reaper.cli import exitcodes


def run_explained(
    run: Callable[[argparse.Namespace], Any],
    parsed_args: argparse.Namespace,
    *,
    stderr: TextIO,
    source: Callable[[], credentials.CredentialSource | None],
    debug: bool = False,
) -> int:
    """``run(parsed_args)``'s exit status; an operator's mistake is one line and exit 1.

    Anything else is raised for the shell to report (with ``debug``, credential
    failures too, for their traceback). ``source`` says which credentials were
    used, if known, so that their failure names where they came from.
    """
    try:
        return int(run(parsed_args) or 0)
    except exitcodes.OperatorError as exc:
        stderr.write(f"error: {exc}\n")
        return exitcodes.ERROR
    except Exception as exc:
        problem = credentials.explain(exc, source(), keystone=False)
        if problem is None or debug:
            raise
        stderr.write(f"error: {problem}\n")
        return exitcodes.ERROR
