"""Exit statuses: one wording in the README and every command's help; usage errors are 1.

The codes that need a cloud (2, 3, 4, 5, 6 from plan and apply) are run
against the testbed by tests/functional/test_exit_codes.py.
"""

from __future__ import annotations

import io
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from reaper.cli import exitcodes
from reaper.cli.main import ReaperApp, main

README = Path(__file__).parents[2] / "README.md"
COMMANDS = sorted(ep.name for ep in entry_points(group="reaper.cli"))


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_readme_states_every_code_as_the_code_does() -> None:
    assert exitcodes.summary() in _words(README.read_text())
    assert set(exitcodes.MEANING) == {0, 1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("name", COMMANDS)
def test_each_commands_help_ends_with_the_codes_it_returns(name: str, capsys) -> None:
    assert main([*name.split("_"), "--help"]) == 0
    help_text = _words(capsys.readouterr().out)
    (stated,) = re.findall(r"Exit status: (.*?\.)(?: |$)", help_text)
    found = re.findall(r"(\d) ([^,(]+(?:\([^)]*\))?)(?:, |\.$)", stated)
    assert [int(code) for code, _ in found][:2] == [0, 1], stated
    for code, meaning in found:
        assert exitcodes.MEANING[int(code)] == meaning.strip()


def _run(*argv: str) -> tuple[int, str, str]:
    app = ReaperApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    return app.run(list(argv)), app.stdout.getvalue(), app.stderr.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["plan"],  # a required option missing
        ["plan", "--project"],  # an option without its value
        ["tombstone", "list", "--state", "nope"],  # not a choice
        ["nosuchcommand"],
        ["plna"],  # a typo: the suggestion goes to stderr
    ],
)
def test_a_usage_error_is_1_not_2_which_means_a_step_failed(argv: list[str]) -> None:
    rc, out, _ = _run(*argv)
    assert rc == exitcodes.ERROR
    assert out == ""


def test_a_usage_error_in_the_global_options_is_1() -> None:
    assert main(["--config-file"]) == exitcodes.ERROR


def test_ok_and_error_from_policy_validate(tmp_path) -> None:
    good = Path(__file__).parents[2] / "policies" / "default.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies: [{}]\n")
    assert _run("policy", "validate", str(good))[0] == exitcodes.OK
    assert _run("policy", "validate", str(bad))[0] == exitcodes.ERROR
