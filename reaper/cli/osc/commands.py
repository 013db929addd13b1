"""``openstack reaper plan|apply|sweep|tombstone|release ...``: the ``reaper`` commands, under OSC.

Each is the ``reaper`` command class itself, run with ``self.app`` pointing
at :class:`~reaper.cli.osc.client.ReaperClient` while it works, so the
columns (Title Case), output formats (``-f``, ``-c``, ``--fit-width``),
exit statuses and operator errors (one ``error: ...`` line,
:mod:`reaper.cli.failures`) are the same in both, and the cloud is OSC's.
"""

from __future__ import annotations

import argparse
from typing import Any

from reaper.cli import apply, failures, plan, planview, policy, release, sweep, tombstone
from reaper.cli.audit import AuditVerify as _AuditVerify


def _on_osc(command: type) -> type:
    class OnOsc(command):  # type: ignore[valid-type,misc]
        __doc__ = command.__doc__

        def run(self, parsed_args: argparse.Namespace) -> int:
            """An operator's mistake is one ``error: ...`` line, as under ``reaper``."""
            shell = self.app
            return failures.run_explained(
                super().run,
                parsed_args,
                stderr=shell.stderr,
                source=lambda: _source(shell),
                debug=bool(getattr(shell.options, "debug", False)),
            )

        def take_action(self, parsed_args: argparse.Namespace) -> Any:
            shell = self.app
            client = shell.client_manager.reaper
            client.stdin, client.stdout, client.stderr = shell.stdin, shell.stdout, shell.stderr
            client.options = shell.options  # -q: no progress, no retry lines, no advice
            self.app = client
            try:
                return super().take_action(parsed_args)
            finally:
                self.app = shell

    OnOsc.__name__ = OnOsc.__qualname__ = command.__name__
    return OnOsc


def _source(shell: Any) -> Any:
    """The credentials OSC's cloud gives reaper, or ``None`` if they cannot be told."""
    try:
        return shell.client_manager.reaper.credentials
    except Exception:
        return None


Plan = _on_osc(plan.PlanCommand)
PlanShow = _on_osc(planview.PlanShow)
Apply = _on_osc(apply.ApplyCommand)
Sweep = _on_osc(sweep.Sweep)
TombstoneList = _on_osc(tombstone.TombstoneList)
TombstoneShow = _on_osc(tombstone.TombstoneShow)
TombstoneRecheck = _on_osc(tombstone.TombstoneRecheck)
Approve = _on_osc(tombstone.Approve)
Release = _on_osc(release.Release)
AuditVerify = _on_osc(_AuditVerify)
PolicyExplain = _on_osc(policy.PolicyExplain)
PolicyValidate = _on_osc(policy.PolicyValidate)
