"""Every fenced block of README.md and doc/*.md is checked as what it is (see doc/README.md).

This module checks what needs no cloud: that every block is one the tests
know how to check (a new block without a language or marker fails here),
that every reaper.conf snippet names only options reaper registers with
values of their types, that every policy snippet passes ``reaper policy
validate``, and that the Prometheus rules parse and name only metrics that
``/metrics`` exposes. keystone.conf snippets are checked against Keystone's
own options, in the testbed's venv. The commands (``sh`` blocks) run in
test_docs_commands.py, against the testbed.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from reaper.api import Health, application
from reaper.cli.main import main
from reaper.metrics import Metrics
from tests import confcheck, docsnippets
from tests.docsnippets import Block

if TYPE_CHECKING:
    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

ROOT = docsnippets.ROOT
BLOCKS = docsnippets.blocks()


def of_kind(*kinds: str) -> list[Any]:
    return [pytest.param(b, id=b.where) for b in BLOCKS if b.kind in kinds]


def generator_namespaces() -> list[str]:
    """The namespaces ``tox -e genconfig`` documents: what a reaper.conf may set."""
    parser = configparser.ConfigParser(strict=False)
    parser.read_string(
        "[DEFAULT]\n"
        + "\n".join(
            f"namespace_{i} = {line.split('=', 1)[1].strip()}"
            for i, line in enumerate(
                (ROOT / "etc" / "reaper" / "reaper-config-generator.conf").read_text().splitlines()
            )
            if line.startswith("namespace")
        )
    )
    return list(parser.defaults().values())


# -- every block is covered ------------------------------------------------------------


def test_every_block_is_one_the_tests_check() -> None:
    """Parsing the documents raises on any block without a known language or marker."""
    kinds = {b.kind for b in BLOCKS}
    assert {"run", "reaper.conf", "policy", "prometheus-rules"} <= kinds
    for block in BLOCKS:
        if block.exempt:
            assert len(block.reason or "") >= 20, f"{block.where}: say why it cannot run"


def test_an_untested_block_fails(tmp_path: Path) -> None:
    (tmp_path / "doc").mkdir()
    (tmp_path / "README.md").write_text("```\nreaper frobnicate\n```\n")
    (tmp_path / "doc" / "x.md").write_text(
        "```yaml\na: 1\n```\n\n<!-- docs: exempt -->\n```sh\nrm -rf /\n```\n"
        "\n<!-- docs: policy -->\n```ini\n[DEFAULT]\n```\n"
    )
    with pytest.raises(docsnippets.SnippetError) as caught:
        docsnippets.blocks(tmp_path)
    message = str(caught.value)
    assert "README.md:1: a fence without a language block is not tested" in message
    assert "doc/x.md:1: a yaml block needs a marker" in message
    assert "doc/x.md:6: an exempt block says why" in message
    assert "doc/x.md:11: <!-- docs: policy --> is not something a ini block can be" in message


def test_tox_environments_named_in_the_docs_exist() -> None:
    """The exempt ``tox -e`` commands still name environments that tox.ini defines."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    named = {
        env
        for block in BLOCKS
        if block.lang == "sh"
        for found in re.findall(r"\btox -e ([\w,-]+)", block.text)
        for env in found.split(",")
    }
    assert named, "the README names its tox environments"
    for env in named:
        assert env in tox["tox"]["envlist"].split(",") or tox.has_section(f"testenv:{env}"), env


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize("block", of_kind("reaper.conf"))
def test_reaper_conf_snippet_uses_only_options_reaper_registers(
    block: Block, tmp_path: Path
) -> None:
    path = tmp_path / "reaper.conf"
    path.write_text(block.text)
    assert confcheck.problems(str(path), generator_namespaces()) == [], block.where


def test_the_config_check_fails_on_what_reaper_does_not_accept(tmp_path: Path) -> None:
    path = tmp_path / "reaper.conf"
    path.write_text(
        "[DEFAULT]\ndry_run = maybe\nprotected_projects = a\n[api]\nport = 99999\n"
        "[sweeper]\nenabled = true\n[service_credentials]\nauth_type = password\n"
        "username = reaper\n"
    )
    found = "\n".join(confcheck.problems(str(path), generator_namespaces()))
    assert "[DEFAULT] dry_run" in found and "'maybe'" in found
    assert "[DEFAULT] protected_projects is not an option" in found
    assert "[api] port" in found and "65535" in found
    assert "[sweeper] is not a section" in found
    assert "[service_credentials] needs auth_url (auth_type = password)" in found


@pytest.mark.parametrize("block", of_kind("keystone.conf"))
def test_keystone_conf_snippet_uses_only_options_keystone_registers(
    block: Block, tmp_path: Path, testbed: Testbed
) -> None:
    """Checked in the testbed's venv, where Keystone and its options are installed."""
    path = tmp_path / "keystone.conf"
    path.write_text(block.text)
    python = Path(testbed.state.venv) / "bin" / "python"
    checked = subprocess.run(
        [
            *(python, "-W", "ignore", ROOT / "tests" / "confcheck.py"),
            *("--namespace", "keystone", "--namespace", "oslo.messaging", path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, f"{block.where}:\n{checked.stdout}{checked.stderr}"


# -- policies ----------------------------------------------------------------------------


@pytest.mark.parametrize("block", of_kind("policy"))
def test_policy_snippet_passes_reaper_policy_validate(block: Block, tmp_path: Path) -> None:
    path = tmp_path / (Path(block.file).name if block.file else "policy.yaml")
    path.write_text(block.text)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["policy", "validate", str(path)])
    assert status == 0, f"{block.where}:\n{out.getvalue()}{err.getvalue()}"
    assert out.getvalue() == f"{path}: OK\n"


# -- metrics and alerts ------------------------------------------------------------------

#: Series that Prometheus itself makes for every scrape target, not reaper.
PROMETHEUS_OWN = {"up"}
_PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset"}
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def exposed() -> dict[str, set[tuple[str, str]]]:
    """What the controller's ``/metrics`` serves: series name -> (label, value) pairs seen."""
    app = application(Health({}), Metrics())
    started: list[str] = []
    body = b"".join(
        app(
            {"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET", "QUERY_STRING": ""},
            lambda status, headers: started.append(status),
        )
    )
    assert started == ["200 OK"]
    series: dict[str, set[tuple[str, str]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        names = {family.name}
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        if family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count", "created")}
        for name in names:
            series.setdefault(name, set())
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels.items())
    return series


def metric_selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, label matchers) of every series an expression selects."""
    found = []
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors: [5m]
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?", expr):
        name, braces, call = match.group(1), match.group(2), match.group(3)
        if call or name in _PROMQL_WORDS:
            continue
        labels = dict(re.findall(r'(\w+)\s*=~?\s*"([^"]*)"', braces or ""))
        found.append((name, labels))
    return found


@pytest.mark.parametrize("block", of_kind("prometheus-rules"))
def test_alert_rules_parse_and_select_what_metrics_exposes(block: Block) -> None:
    rules = yaml.safe_load(block.text)
    series = exposed()
    assert isinstance(rules.get("groups"), list) and rules["groups"], block.where
    for group in rules["groups"]:
        assert isinstance(group.get("name"), str) and group["rules"], group
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "record", "expr", "for", "labels", "annotations"}, rule
            assert ("alert" in rule) != ("record" in rule), rule
            assert _DURATION.match(str(rule.get("for", "0s"))), rule
            selectors = metric_selectors(rule["expr"])
            assert selectors, rule
            for name, labels in selectors:
                if name in PROMETHEUS_OWN:
                    continue
                assert name in series, f"{block.where}: {name} is not served by /metrics"
                for label in labels.items():
                    assert label in series[name], f"{block.where}: {name} has no {label}"


def test_the_metrics_table_names_what_metrics_exposes() -> None:
    """doc/operations.md's table of metrics, against ``/metrics``."""
    series = exposed()
    rows = [
        line
        for line in (ROOT / "doc" / "operations.md").read_text().splitlines()
        if line.startswith("| `reaper_")
    ]
    names = [n for row in rows for n in re.findall(r"`(reaper_\w+)", row.split("|")[1])]
    assert len(names) >= 7
    for name in names:
        assert name in series, f"doc/operations.md names {name}; /metrics does not serve it"


def test_the_alert_check_fails_on_a_metric_reaper_does_not_serve() -> None:
    series = exposed()
    assert ("reaper_tombstones", {"state": "held"}) in metric_selectors(
        'reaper_tombstones{state="held"} > 0'
    )
    assert "reaper_tombstones_total" not in series
    assert ("state", "parked") not in series["reaper_tombstones"]
    assert metric_selectors("sum by (action) (rate(reaper_steps_total[5m])) > 0 or up == 0") == [
        ("reaper_steps_total", {}),
        ("up", {}),
    ]
