"""Each checkpoint leaves the database too: to a file, syslog or the bus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reaper import config
from reaper.audit import publish, published
from reaper.audit.checkpoint import Checkpoint
from tests.unit.audit.helpers import checkpoints_at, make_chain, signer

CPS = checkpoints_at(make_chain(5), [2, 5], signer())


def conf_with(tmp_path: Path, audit: str) -> object:
    path = tmp_path / "reaper.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n[audit]\n{audit}")
    return config.make_conf(["--config-file", str(path)], config_files=[])


def test_a_published_checkpoint_proves_itself_without_the_database() -> None:
    data = publish.published(CPS[0])
    again = published.parse(json.loads(publish.line(CPS[0])), "here")
    assert data["type"] == publish.TYPE and data["signature"] == CPS[0].signature
    assert (again.number, again.seq, again.digest) == (1, 2, CPS[0].digest)


def test_the_file_sink_appends_one_line_per_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "checkpoints.jsonl"
    path.parent.mkdir()
    conf = conf_with(tmp_path, f"checkpoint_sinks = file\ncheckpoint_file = {path}\n")
    publisher = publish.Publisher.from_conf(conf)  # type: ignore[arg-type]
    for cp in CPS:
        assert publisher.publish(cp) == []
    assert [json.loads(x)["number"] for x in path.read_text().splitlines()] == [1, 2]
    assert oct(path.stat().st_mode & 0o777) == "0o640"


@pytest.mark.parametrize(
    ("audit", "said"),
    [
        ("checkpoint_sinks = file\n", "checkpoint_file is not set"),
        ("checkpoint_sinks = file\ncheckpoint_file = {state}/cp.jsonl\n", "is inside state_path"),
    ],
)
def test_a_file_sink_that_protects_nothing_is_refused(
    tmp_path: Path, audit: str, said: str
) -> None:
    conf = conf_with(tmp_path, audit.format(state=tmp_path / "state"))
    with pytest.raises(publish.SinkError, match=said):
        publish.Publisher.from_conf(conf)  # type: ignore[arg-type]


def test_an_unknown_sink_is_a_configuration_error(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, "checkpoint_sinks = tape\n")
    with pytest.raises(ValueError, match="tape"):
        publish.Publisher.from_conf(conf)  # type: ignore[arg-type]


def test_a_failing_sink_is_reported_and_the_others_still_publish() -> None:
    got: list[int] = []

    class Broken:
        name = "broken"

        def publish(self, cp: Checkpoint) -> None:
            raise OSError("disk full")

    class Kept:
        name = "kept"

        def publish(self, cp: Checkpoint) -> None:
            got.append(cp.number)

    assert publish.Publisher([Broken(), Kept()]).publish(CPS[0]) == ["broken"]
    assert got == [1]
