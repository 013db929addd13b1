"""How optional testbed services are named and asked for (no service is started here)."""

from __future__ import annotations

import pytest

from tests.testbed import extras, postgres
from tests.testbed.state import RunState


def test_services_are_put_in_start_order_without_duplicates() -> None:
    assert extras.parse("designate, swift,designate") == ["swift", "designate"]
    assert extras.parse(["octavia"]) == ["octavia"]
    assert extras.parse("") == []


def test_an_unknown_service_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown service 'trove': choose from swift, octavia"):
        extras.parse("swift,trove")


def test_every_optional_database_is_a_database_of_the_run() -> None:
    names = postgres.names("tbabc", extras.all_databases())

    assert names["octavia"] == "tbabc_octavia"
    assert names["keystone"] == "tbabc_keystone"
    assert "designate" not in names  # on MariaDB: see tests/testbed/mysql.py


def test_each_service_declares_ports_for_all_its_apis() -> None:
    for name in extras.MODULES:
        extra = extras.get(name)
        state = RunState(
            run_id="tbabc", run_dir="/nonexistent", ports=dict.fromkeys(extra.ports, 1)
        )
        assert set(extra.apis(state)) <= set(extra.ports), name
