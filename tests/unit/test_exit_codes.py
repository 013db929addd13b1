"""Exit statuses: one wording in the README and every command's help; usage errors are 1.

The codes that need a cloud (2, 3, 4, 5, 6 from plan and apply) are run
against the testbed by tests/functional/test_apply.py and test_plan.py.
"""

from __future__ import annotations

import io
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from reaper.cli import exitcodes
from reaper.cli.main import ReaperApp, main

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
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


#: Every code a command can return without a cloud, as the installed ``reaper`` returns
#: it in a process of its own. The codes that need one are run on the testbed: 2, 3 and 6
#: by tests/functional/test_apply.py, 4 for a live identity and 5 by test_plan.py.
TABLE = [
    (exitcodes.OK, ["policy", "validate", "{root}/policies/default.yaml"]),
    (exitcodes.ERROR, ["plan"]),  # a usage error: not 2
    (exitcodes.ERROR, ["tombstone", "show", "no-such-tombstone"]),  # an unknown id: 1
    (exitcodes.ERROR, ["approve", "no-such-tombstone"]),
    (exitcodes.ERROR, ["plan", "show", "no-such-plan"]),
    (exitcodes.ERROR, ["replay", "{tmp}/missing.json"]),
    (exitcodes.ERROR, ["plan", "--project", "NOT-AN-ID"]),
    (exitcodes.REFUSED, ["apply", "{tmp}/edited-plan.json", "--yes"]),  # safety: 4
]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reaper.conf with a store (one notification replayed) and an edited plan file."""
    import datetime as dt
    import json
    import os
    import subprocess
    import sys

    from reaper.model import IdentityKind, IdentityRef, Plan

    tmp_path = tmp_path_factory.mktemp("host")
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    fixture = ROOT / "tests/fixtures/keystone/basic-011-identity.project.deleted.json"
    reaper = os.path.join(os.path.dirname(sys.executable), "reaper")
    subprocess.run(
        [reaper, "-q", "--config-file", str(conf), "replay", str(fixture)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    plan = Plan(
        identity=IdentityRef(IdentityKind.PROJECT, "0123456789abcdef0123456789abcdef"),
        created_at=dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc),
        resources=(),
        steps=(),
    ).to_dict()
    plan["identity"]["id"] = "fedcba9876543210fedcba9876543210"  # edited after hashing
    (tmp_path / "edited-plan.json").write_text(json.dumps(plan))
    return tmp_path


@pytest.mark.parametrize(("code", "argv"), TABLE, ids=[" ".join(a) for _, a in TABLE])
def test_each_code_as_the_installed_command_returns_it(
    code: int, argv: list[str], host: Path
) -> None:
    import os
    import subprocess
    import sys

    args = [a.format(root=ROOT, tmp=host) for a in argv]
    reaper = os.path.join(os.path.dirname(sys.executable), "reaper")
    run = subprocess.run(
        [reaper, "--config-file", str(host / "reaper.conf"), *args],
        capture_output=True, text=True, timeout=120, cwd=host,
    )  # fmt: skip
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    if code != exitcodes.OK:
        assert run.stderr.strip(), "a non-zero status comes with its reason on stderr"
