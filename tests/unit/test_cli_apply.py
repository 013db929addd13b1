"""When ``reaper apply`` discovers again before the first step."""

from __future__ import annotations

import argparse

from reaper.cli.apply import recheck_needed


def args(plan_file: str | None = None, *, yes: bool = False) -> argparse.Namespace:
    return argparse.Namespace(plan_file=plan_file, yes=yes)


def test_a_saved_plan_is_always_checked_again_before_it_runs() -> None:
    assert recheck_needed(args("plan.json"))
    assert recheck_needed(args("plan.json", yes=True))


def test_a_plan_that_waited_for_the_operator_to_confirm_is_checked_again() -> None:
    assert recheck_needed(args(None, yes=False))


def test_a_plan_made_and_applied_unattended_by_one_command_is_not_discovered_twice() -> None:
    assert not recheck_needed(args(None, yes=True))
