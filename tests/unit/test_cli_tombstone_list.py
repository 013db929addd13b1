"""``reaper tombstone list``: a list that fits a terminal, and ``--long`` for a closer look."""

from __future__ import annotations

import io
import json
from pathlib import Path

from reaper.cli.main import ReaperApp

FIXTURE = (
    Path(__file__).parents[2] / "tests/fixtures/keystone/basic-011-identity.project.deleted.json"
)


def _run(conf: Path, *argv: str) -> tuple[int, str]:
    app = ReaperApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    return app.run(["-q", "--config-file", str(conf), *argv]), app.stdout.getvalue()


def test_long_adds_created_plan_holder_and_triggers_in_title_case(tmp_path: Path) -> None:
    conf = tmp_path / "reaper.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    assert _run(conf, "replay", str(FIXTURE))[0] == 0
    code, short = _run(conf, "tombstone", "list", "-f", "json")
    code_long, long = _run(conf, "tombstone", "list", "--long", "-f", "json")
    assert code == code_long == 0
    (row,), (row_long,) = json.loads(short), json.loads(long)
    assert list(row) == ["ID", "Identity", "State", "Attempts", "Next Attempt", "Updated", "Reason"]
    assert list(row_long) == [*row, "Created", "Plan", "Claimed By", "Triggers"]
    assert row_long["Triggers"] == 1 and row_long["Plan"] == "" and row_long["Claimed By"] == ""
    assert row_long["Created"].endswith("Z") and row["Next Attempt"] == ""
