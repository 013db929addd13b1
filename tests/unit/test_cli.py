"""The operator CLI: help, version, and a command for every stage."""

from __future__ import annotations

import io

import pytest

from reaper.cli.main import ReaperApp, main


def _run(argv: list[str]) -> tuple[int, str, str]:
    app = ReaperApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    try:
        rc = app.run(argv)
    except SystemExit as exc:  # argparse's --version / --help
        rc = int(exc.code or 0)
    return rc, app.stdout.getvalue(), app.stderr.getvalue()


def test_help_lists_the_operator_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert not exc.value.code
    out = capsys.readouterr().out
    for command in ("plan", "apply", "sweep", "policy validate", "audit verify", "serve", "replay"):
        assert command in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("reaper ")


def test_no_arguments_explains_instead_of_opening_a_shell(capsys) -> None:
    with pytest.raises(SystemExit):
        main([])
    assert "Commands:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--project", "%"], "--project: '%' is not a project id"),
        (["--project", "*"], "never contain a wildcard"),
        (["--project", "0123456789ABCDEF0123456789ABCDEF"], "[identity] project_id_pattern"),
        (["--user", "jdoe"], "[identity] user_id_pattern"),
        (["--domain", "Default"], "[identity] domain_id_pattern"),
    ],
)
@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"]])
def test_an_id_keystone_could_not_have_made_is_refused_before_any_request(
    tmp_path, command: list[str], argv: list[str], said: str
) -> None:
    conf = tmp_path / "reaper.conf"
    # No cloud is configured: getting past the id check would fail differently.
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    # -q: no line about the files, credentials and store read; only the error.
    rc, out, err = _run(["-q", "--config-file", str(conf), *command, *argv])
    assert rc == 1
    assert err.startswith("error: ") and said in err
    assert "Traceback" not in err and out.strip() == ""
    assert not (tmp_path / "reaper.sqlite").exists()


def test_a_widened_format_lets_an_operator_name_such_an_id(tmp_path) -> None:
    conf = tmp_path / "reaper.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\n[identity]\nuser_id_pattern = [a-z]+\n"
        "[service_credentials]\ncloud = no-such-cloud\n"
    )
    rc, _, err = _run(["--config-file", str(conf), "plan", "--user", "jdoe"])
    assert rc == 1
    assert "user_id_pattern" not in err  # past the id check, failing on the cloud instead
    assert "no-such-cloud" in err


def test_a_broken_id_pattern_is_named_with_its_option(tmp_path) -> None:
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n[identity]\nproject_id_pattern = [0-9\n")
    rc, _, err = _run(["--config-file", str(conf), "plan", "--project", "0" * 32])
    assert rc == 1
    assert "error: [identity] project_id_pattern = '[0-9' is not a regular expression" in err


@pytest.mark.parametrize("command", [["reaper", "--version"], ["reaper-controller", "--help"]])
def test_a_command_says_nothing_on_stderr_about_the_libraries_it_imports(
    command: list[str], tmp_path
) -> None:
    """An operator reads stderr for what went wrong; library deprecation notices
    (eventlet's, dnspython's DSA under cryptography >= 48, imported through oslo.log)
    are not about their cloud and would teach them to skip it."""
    import os
    import subprocess
    import sys

    bindir = os.path.dirname(sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    run = subprocess.run(
        [os.path.join(bindir, command[0]), *command[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
