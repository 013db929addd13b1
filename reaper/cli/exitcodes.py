"""Exit statuses of ``reaper`` commands: scripts branch on these.

:data:`MEANING` is the one wording of each: every command's help ends with
:func:`epilog` of the codes it can return, and README.md quotes
:func:`summary`, so the three cannot drift apart (tests/unit/test_exit_codes.py).
"""

from __future__ import annotations

#: Everything asked for was done (or, for ``plan``, the plan is complete).
OK = 0
#: reaper could not do its job: bad input (a usage error, an unknown id), Keystone or
#: the database unreachable. argparse's usage errors are mapped here, not to 2.
ERROR = 1
#: Some steps failed; the report says which and why.
FAILED = 2
#: Held for approval by a blast-radius limit (``reaper approve``).
HELD = 3
#: Refused for safety: Keystone says the identity still exists, the plan was edited,
#: the confirmation did not match, an audit archive would not start at a signed
#: checkpoint or its bundle did not verify.
REFUSED = 4
#: The plan may be smaller than reality: a service could not be inspected.
INCOMPLETE = 5
#: Some steps wait for their grace period (``reaper apply --due`` runs them).
DEFERRED = 6

MEANING: dict[int, str] = {
    OK: "done",
    ERROR: "error (bad usage, an unknown id, Keystone or the database unreachable)",
    FAILED: "a step failed",
    HELD: "held for approval (blast radius)",
    REFUSED: (
        "refused (the identity still exists, an edited plan, no confirmation, "
        "an archive that could not be proven)"
    ),
    INCOMPLETE: "incomplete plan (a service could not be inspected)",
    DEFERRED: "steps deferred by a grace period",
}


def summary() -> str:
    """Every code and its meaning, as README.md says it."""
    return "Exit statuses: " + ", ".join(f"{c} {m}" for c, m in MEANING.items()) + "."


def epilog(*codes: int) -> str:
    """The codes one command can return, for the end of its ``--help``."""
    return "Exit status: " + ", ".join(f"{c} {MEANING[c]}" for c in sorted(codes)) + "."


class OperatorError(Exception):
    """Bad input from the operator (a file, an option, a store): one line, exit 1.

    Commands raise it where they find the mistake; ``reaper`` (and the
    ``openstack`` shell) print its message alone, never a traceback.
    """
