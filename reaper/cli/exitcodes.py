"""Exit statuses of ``reaper`` commands: scripts branch on these."""

from __future__ import annotations

#: Everything asked for was done (or, for ``plan``, the plan is complete).
OK = 0
#: reaper could not do its job (bad input, Keystone or the database unreachable).
ERROR = 1
#: Some steps failed; the report says which and why.
FAILED = 2
#: Held for approval by a blast-radius limit (``reaper approve``).
HELD = 3
#: Refused: Keystone says the identity still exists.
REFUSED = 4
#: The plan may be smaller than reality: a service could not be inspected.
INCOMPLETE = 5
#: Some steps wait for their grace period (``reaper apply --due`` runs them).
DEFERRED = 6
