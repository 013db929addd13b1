"""The demo (tests/testbed/demo.py) succeeds only on a trail whose checkpoints are all signed."""

from __future__ import annotations

import json

from tests.testbed.demo import signed_checkpoints


def report(**fields: object) -> str:
    return json.dumps({"Result": "OK", "Checkpoints": 3, "Signatures Verified": 3, **fields})


def test_every_checkpoint_signed_and_verified_counts() -> None:
    assert signed_checkpoints(report()) == 3


def test_an_unsigned_checkpoint_fails_the_demo() -> None:
    assert signed_checkpoints(report(**{"Signatures Verified": 2})) == 0


def test_no_checkpoint_at_all_fails_the_demo() -> None:
    assert signed_checkpoints(report(**{"Checkpoints": 0, "Signatures Verified": 0})) == 0


def test_a_broken_chain_fails_the_demo_even_when_signed() -> None:
    assert signed_checkpoints(report(Result="FAILED")) == 0


def test_output_that_is_not_a_report_fails_the_demo() -> None:
    assert signed_checkpoints("Traceback (most recent call last):") == 0
