"""``reaper policy validate`` and ``reaper policy explain``."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable

from reaper.cli.main import ReaperApp
from reaper.cli.policy import fitted_table
from reaper.policy import explain, load_policies
from reaper.policy.explain import COLUMNS

POLICIES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "policies")
DEFAULT = os.path.join(POLICIES, "default.yaml")
FORENSIC = os.path.join(POLICIES, "forensic.yaml")

BROKEN = """
policies:
  - name: p
    triggers: [identity.project.deleted]
    resources: [compute.server]
    actions: [shred]
"""


def run(argv: list[str]) -> tuple[int, str, str]:
    app = ReaperApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    rc = app.run(argv)
    return rc, app.stdout.getvalue(), app.stderr.getvalue()


class TestValidate:
    def test_ok_per_file(self) -> None:
        rc, out, err = run(["policy", "validate", DEFAULT, FORENSIC])
        assert rc == 0
        assert out == f"{DEFAULT}: OK\n{FORENSIC}: OK\n"
        assert "5 policies, digest " in err

    def test_errors_as_file_line_column_and_exit_1(self, write: Callable[..., str]) -> None:
        broken = write(BROKEN, "broken.yaml")
        rc, out, _ = run(["policy", "validate", DEFAULT, broken])
        assert rc == 1
        assert out.splitlines() == [
            f"{DEFAULT}: OK",
            f"{broken}:5:15: policies[0].actions[0]: unknown action 'shred' (known: delete, "
            "evidence_snapshot, lock, quarantine, report, stop, tag)",
        ]

    def test_a_missing_file(self) -> None:
        rc, out, _ = run(["policy", "validate", "/nonexistent.yaml"])
        assert (rc, out) == (1, "/nonexistent.yaml: no such file or directory\n")

    def test_without_files_the_configured_policies(self, write, tmp_path) -> None:
        conf = tmp_path / "reaper.conf"
        conf.write_text(f"[DEFAULT]\npolicy_paths = {write(BROKEN)}\n")
        rc, out, _ = run(["--config-file", str(conf), "policy", "validate"])
        assert rc == 1
        assert "unknown action 'shred'" in out


class TestExplain:
    def test_rows_follow_evaluation_order(self) -> None:
        rows = explain(
            load_policies([FORENSIC]),
            resource_types=["compute.server"],
            triggers=["identity.project.deleted"],
        )
        assert [(r.order, r.policy) for r in rows] == [
            ("protect", "never-touch-shared-or-kept"),
            ("1", "preserve-servers"),
        ]
        assert rows[0].protect == "tagged reaper:keep"
        assert rows[1].filters == "reaper_relation eq owner"
        assert rows[1].actions.splitlines() == [
            "evidence_snapshot {retention: 90d}",
            'quarantine {reason: "owner deleted in Keystone; held as evidence by reaper"}',
            "delete after 7d",
        ]
        assert rows[1].limit == "500"

    def test_pairs_no_policy_acts_on_say_so(self) -> None:
        rows = explain(
            load_policies([DEFAULT]),
            resource_types=["compute.server"],
            triggers=["identity.user.*"],
        )
        assert [(r.trigger, r.order, r.actions) for r in rows] == [
            ("identity.user.deleted", "-", "none (skip: no policy acts)"),
            ("identity.user.disabled", "-", "none (skip: no policy acts)"),
        ]

    def test_configured_protection_comes_first(self) -> None:
        rows = explain(
            load_policies([DEFAULT]),
            resource_types=["nothing"],
            protected_project_ids=["service", "admin"],
        )
        assert [(r.order, r.policy, r.protect) for r in rows] == [
            ("config", "protected_project_ids", "admin, service"),
        ]

    def test_the_command_says_which_file_won_for_a_directory_of_the_shipped_files(
        self, tmp_path
    ) -> None:
        rc, out, _ = run(["policy", "explain", "--policy", POLICIES, "-f", "json"])
        assert rc == 0
        rows = [r for r in json.loads(out) if r["Order"] == "override"]
        assert [r["Policy"] for r in rows] == ["never-touch-shared-or-kept", "report-dangling-dns"]
        assert rows[0]["Actions"] == (
            f"{os.path.join(POLICIES, 'forensic.yaml')}:35 overrides "
            f"{os.path.join(POLICIES, 'default.yaml')}:49"
        )

    def test_the_command(self, tmp_path) -> None:
        conf = tmp_path / "reaper.conf"
        conf.write_text("[DEFAULT]\nprotected_project_ids = admin\n")
        rc, out, _ = run(
            [
                "--config-file",
                str(conf),
                "policy",
                "explain",
                "--policy",
                DEFAULT,
                "--resource-type",
                "network.network",
                "--trigger",
                "identity.project.deleted",
                "-f",
                "json",
            ]
        )
        assert rc == 0
        rows = json.loads(out)
        assert [(r["Order"], r["Policy"]) for r in rows] == [
            ("config", "protected_project_ids"),
            ("protect", "never-touch-shared-or-kept"),
            ("1", "delete-project-orphans"),
        ]
        assert rows[1]["Protect"].splitlines() == [
            "tagged reaper:keep",
            "in_use_by_live_project eq true",
            "is_shared eq true",
            "is_router_external eq true",
        ]

    def test_without_policy_the_default(self) -> None:
        rc, out, _ = run(["policy", "explain", "--resource-type", "compute.keypair", "-f", "csv"])
        assert rc == 0
        assert "delete-user-keypairs" in out

    def test_broken_policies_fail(self, write: Callable[..., str]) -> None:
        rc, _, err = run(["policy", "explain", "--policy", write(BROKEN)])
        assert rc == 1
        assert "unknown action 'shred'" in err


class TestNotCovered:
    """Barbican's types cannot be listed for a deleted project: explain says so, never skips."""

    def test_each_barbican_type_has_a_row_saying_it_is_not_covered(self) -> None:
        rows = explain(load_policies([DEFAULT]), resource_types=["key_manager.*"])

        assert [(r.resource_type, r.trigger) for r in rows] == [
            ("key_manager.container", "*"),
            ("key_manager.order", "*"),
            ("key_manager.secret", "*"),
        ]
        for row in rows:
            assert row.actions.startswith("not covered: Barbican lists only the caller's own")
            assert "keystone listener" in row.actions

    def test_the_cli_shows_the_secrets_row(self) -> None:
        rc, out, _ = run(
            ["policy", "explain", "--policy", DEFAULT, "--resource-type", "key_manager.secret",
             "-f", "json"]
        )  # fmt: skip

        assert rc == 0
        (row,) = json.loads(out)
        assert row["Resource Type"] == "key_manager.secret"
        assert "cannot find a deleted project's" in row["Actions"]


class TestExplainShowsWhatActs:
    def test_pairs_no_policy_acts_on_are_left_out_when_asked(self) -> None:
        policies = load_policies([DEFAULT])
        kept = explain(policies, resource_types=["compute.server"], acting_only=True)
        every = explain(policies, resource_types=["compute.server"])
        assert kept and all(r.order != "-" for r in kept)
        assert [r for r in every if r.order != "-"] == kept

    def test_the_command_leaves_them_out_says_how_many_and_all_shows_them(self) -> None:
        argv = ["policy", "explain", "--policy", DEFAULT, "--resource-type", "compute.server"]
        rc, out, err = run([*argv, "-f", "json"])
        rc_all, out_all, _ = run([*argv, "--all", "-f", "json"])
        assert rc == rc_all == 0
        shown, every = json.loads(out), json.loads(out_all)
        left_out = [r for r in every if r["Order"] == "-"]
        assert left_out and all(r["Order"] != "-" for r in shown)
        assert f"{len(left_out)} (type, trigger) pairs no policy acts on are left out" in err

    def test_a_mistyped_type_or_trigger_is_an_error_with_the_likely_name(self) -> None:
        rc, out, err = run(["policy", "explain", "--resource-type", "compute.srever"])
        assert (rc, out) == (1, "")
        assert (
            "--resource-type 'compute.srever' matches nothing: did you mean compute.server?" in err
        )
        rc, _, err = run(["policy", "explain", "--trigger", "identity.project.delted"])
        assert rc == 1
        assert "did you mean identity.project.deleted?" in err
        assert run(["policy", "explain", "--resource-type", "network.*", "-f", "json"])[0] == 0


class TestExplainTable:
    """The table is one section per resource type and fits 100 columns; json keeps every value."""

    def test_no_line_is_wider_than_100_columns(self) -> None:
        rc, out, _ = run(["policy", "explain", "--policy", POLICIES, "--all"])
        assert rc == 0
        assert max(len(line) for line in out.splitlines()) == 100  # wrapped, not just short

    def test_each_resource_type_is_one_section_under_its_name(self) -> None:
        _, table, _ = run(["policy", "explain", "--policy", DEFAULT])
        _, as_json, _ = run(["policy", "explain", "--policy", DEFAULT, "-f", "json"])
        types = [r["Resource Type"] for r in json.loads(as_json)]
        headings = [line for line in table.splitlines() if line and line[0] not in "+|"]
        assert headings == list(dict.fromkeys(types))  # each type once, in the rows' order
        assert "key_manager.secret" in headings
        assert "Resource Type" not in table  # said by the heading, not by a column

    def test_configured_protection_is_the_section_for_every_type(self, tmp_path) -> None:
        conf = tmp_path / "reaper.conf"
        conf.write_text("[DEFAULT]\nprotected_project_ids = admin\n")
        argv = ["--config-file", str(conf), "policy", "explain", "--policy", DEFAULT]
        rc, out, _ = run([*argv, "--resource-type", "compute.server"])
        assert rc == 0
        assert [line for line in out.splitlines() if line and line[0] not in "+|"] == [
            "every type",
            "compute.server",
        ]

    def test_max_width_narrows_it_further(self) -> None:
        _, out, _ = run(["policy", "explain", "--policy", DEFAULT, "--max-width", "80"])
        assert max(len(line) for line in out.splitlines()) <= 80

    def test_json_keeps_every_row_and_value_in_full(self) -> None:
        rc, out, _ = run(["policy", "explain", "--policy", DEFAULT, "-f", "json"])
        assert rc == 0
        rows = explain(load_policies([DEFAULT]), acting_only=True)
        assert json.loads(out) == [dict(zip(COLUMNS, r.as_tuple(), strict=True)) for r in rows]

    def test_a_short_column_is_not_wrapped_to_make_room_for_a_long_one(self) -> None:
        text = fitted_table(
            ("Trigger", "Order", "Policy", "Actions"),
            [("identity.project.deleted", "1", "delete-it", "word " * 40)],
            60,
        )
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 60
        assert "| identity.project.deleted | 1     | delete-it |" in lines[3]


def _sections(table: str) -> dict[str, list[list[str]]]:
    """Each section's heading and its rows' cells (continuation lines of wrapped cells left out)."""
    found: dict[str, list[list[str]]] = {}
    heading = ""
    for line in table.splitlines():
        if line and line[0] not in "+|":
            heading = line
            found[heading] = []
        elif line.startswith("|") and line.split("|")[1].strip():
            found[heading].append([cell.strip() for cell in line.split("|")[1:-1]])
    return {h: rows[1:] for h, rows in found.items()}  # without the column names


class TestExplainTableAsOscUsersExpect:
    """--fit-width and --sort-column (cliff's, and so OSC's) work in the sectioned table too."""

    def test_fit_width_uses_the_whole_display_wider_than_100(self, monkeypatch) -> None:
        monkeypatch.setenv("COLUMNS", "160")
        argv = ["policy", "explain", "--policy", POLICIES, "--all"]
        _, fitted, _ = run([*argv, "--fit-width"])
        _, default, _ = run(argv)
        assert max(len(line) for line in fitted.splitlines()) == 160
        assert max(len(line) for line in default.splitlines()) == 100
        assert len(fitted.splitlines()) < len(default.splitlines())  # fewer wrapped lines

    def test_fit_width_narrows_to_a_narrow_display(self, monkeypatch) -> None:
        monkeypatch.setenv("COLUMNS", "80")
        _, out, _ = run(["policy", "explain", "--policy", DEFAULT, "--fit-width"])
        assert max(len(line) for line in out.splitlines()) <= 80

    def test_sort_column_sorts_each_section(self) -> None:
        argv = ["policy", "explain", "--policy", DEFAULT, "--resource-type", "compute.server"]
        _, plain, _ = run(argv)
        _, by_trigger, _ = run([*argv, "--sort-column", "Trigger"])
        rows = _sections(plain)["compute.server"]
        sorted_rows = _sections(by_trigger)["compute.server"]
        assert [r[0] for r in rows] != sorted([r[0] for r in rows])  # evaluation order
        assert [r[0] for r in sorted_rows] == sorted(r[0] for r in rows)
        assert sorted(sorted_rows) == sorted(rows)  # the same rows, reordered

    def test_sort_column_resource_type_orders_the_sections(self) -> None:
        argv = ["policy", "explain", "--policy", DEFAULT]
        _, plain, _ = run(argv)
        _, down, _ = run([*argv, "--sort-column", "resource_type", "--sort-descending"])
        assert list(_sections(down)) == sorted(_sections(plain), reverse=True)
        assert _sections(down)["compute.server"] == _sections(plain)["compute.server"]

    def test_an_unknown_sort_column_is_ignored_as_cliff_ignores_it(self) -> None:
        argv = ["policy", "explain", "--policy", DEFAULT]
        assert run([*argv, "--sort-column", "Nosuch"])[1] == run(argv)[1]
