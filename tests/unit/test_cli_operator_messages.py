"""What an operator sees on stderr, run as they run it: the installed commands, in a process.

A missing store is named, never created by a command that only reads; an
unusable ``state_path`` and a bad ``replay`` file are one line naming the
option or the file; ``-q`` keeps stderr for errors; ``--log-file`` writes
the file; both commands report the installed version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = (
    Path(__file__).parents[2] / "tests/fixtures/keystone/basic-011-identity.project.deleted.json"
)
BIN = os.path.dirname(sys.executable)


def reaper(*argv: str, cwd: Path, command: str = "reaper") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHONWARNINGS"))}
    return subprocess.run(
        [os.path.join(BIN, command), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "reaper.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    return path


@pytest.mark.parametrize(
    "command",
    [["tombstone", "list"], ["audit", "show"], ["audit", "verify"], ["tombstone", "show", "x"]],
)
def test_a_read_only_command_names_the_missing_store_and_creates_none(
    command: list[str], conf: Path, tmp_path: Path
) -> None:
    run = reaper("--config-file", str(conf), *command, cwd=tmp_path)
    assert run.returncode == 1
    expected = tmp_path / "state" / "reaper.sqlite"
    assert f"error: no store at {expected} ([DEFAULT] state_path = {tmp_path / 'state'})" in (
        run.stderr
    )
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    assert not (tmp_path / "state").exists()


def test_a_state_path_that_cannot_hold_a_store_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'a-file' / 'state'}\n")
    run = reaper("--config-file", str(conf), "replay", str(FIXTURE), cwd=tmp_path)
    assert run.returncode == 1
    (line,) = [x for x in run.stderr.splitlines() if x.startswith("error:")]
    assert "state_path" in line and str(tmp_path / "a-file") in line
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ("not json", "{path} is not JSON"),
        ("[1, 2]", "{path} holds a JSON list, not one notification"),
    ],
)
def test_replay_names_the_file_it_cannot_use(
    content: str | None, said: str, conf: Path, tmp_path: Path
) -> None:
    path = tmp_path / "saved.json"
    if content is not None:
        path.write_text(content)
    run = reaper("--config-file", str(conf), "replay", str(path), cwd=tmp_path)
    assert run.returncode == 1
    assert run.stdout == ""
    assert f"error: {said.format(path=path)}" in run.stderr
    assert "Traceback" not in run.stderr


def test_replay_says_duplicate_for_a_redelivered_message(conf: Path, tmp_path: Path) -> None:
    first = reaper("--config-file", str(conf), "replay", str(FIXTURE), "-f", "json", cwd=tmp_path)
    again = reaper("--config-file", str(conf), "replay", str(FIXTURE), "-f", "json", cwd=tmp_path)
    assert first.returncode == again.returncode == 0, again.stderr
    message_id = json.loads(FIXTURE.read_text())["metadata"]["message_id"]
    assert "duplicate:" not in first.stderr
    assert f"duplicate: message {message_id}" in again.stderr
    assert json.loads(again.stdout)["Reason"] == "duplicate (already recorded)"
    assert json.loads(again.stdout)["Tombstone"] == json.loads(first.stdout)["Tombstone"]


def test_advice_about_reaper_conf_is_said_once_and_not_with_q(conf: Path, tmp_path: Path) -> None:
    # replay opens the trail, which has no signing key: advice, not an error.
    loud = reaper("--config-file", str(conf), "replay", str(FIXTURE), cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert loud.stderr.count("audit checkpoints will be unsigned") == 1, loud.stderr
    assert f"store sqlite:///{tmp_path / 'state' / 'reaper.sqlite'}" in loud.stderr
    other = tmp_path / "other.conf"
    other.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'other'}\n")
    quiet = reaper("-q", "--config-file", str(other), "replay", str(FIXTURE), cwd=tmp_path)
    assert quiet.returncode == 0
    assert quiet.stderr == ""


def test_log_file_gets_the_log_as_json_lines(conf: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "reaper.log"
    run = reaper(
        "-q",
        "--log-file",
        str(log_file),
        "--config-file",
        str(conf),
        "replay",
        str(FIXTURE),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in log_file.read_text().splitlines()]
    assert any(x["event"] == "upgrading store schema" for x in lines), lines
    assert all(x["timestamp"].endswith("Z") for x in lines)
    assert not any(x["logger"].startswith("alembic") for x in lines)


@pytest.mark.parametrize("command", ["reaper", "reaper-controller"])
def test_both_commands_report_the_installed_version(command: str, tmp_path: Path) -> None:
    run = reaper("--version", cwd=tmp_path, command=command)
    # What pip reports for the installed package, asked the way the commands ask
    # (outside the checkout, whose own egg-info may lag behind).
    installed = subprocess.run(
        [sys.executable, "-c", "from importlib import metadata; print(metadata.version('reaper'))"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout.strip()  # fmt: skip
    assert run.returncode == 0
    assert (run.stdout + run.stderr).split()[-1] == installed
    assert ".dev" in installed or installed.count(".") == 2  # the full version, not a prefix
