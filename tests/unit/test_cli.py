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
