"""etc/reaper/reaper.conf.sample is what ``tox -e genconfig`` generates today."""

from __future__ import annotations

from pathlib import Path

import pytest
from oslo_config import generator

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "etc" / "reaper" / "reaper.conf.sample"


def test_the_sample_config_is_not_stale(tmp_path: Path) -> None:
    fresh = tmp_path / "reaper.conf.sample"
    generator.main(
        [
            "--config-file",
            str(ROOT / "etc" / "reaper" / "reaper-config-generator.conf"),
            "--output-file",
            str(fresh),
        ]
    )
    assert fresh.read_text() == SAMPLE.read_text(), (
        "etc/reaper/reaper.conf.sample is stale: run `tox -e genconfig` and commit it"
    )


def test_the_sample_documents_every_group_an_operator_sets() -> None:
    text = SAMPLE.read_text()
    for group in (
        "[DEFAULT]",
        "[listener]",
        "[store]",
        "[service_credentials]",
        "[executor]",
        "[sweep]",
        "[api]",
        "[audit]",
        "[oslo_messaging_rabbit]",
    ):
        assert group in text
    assert "#transport_url = <None>" in text
