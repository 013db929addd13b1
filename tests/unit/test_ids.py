"""Identity ids: Keystone's formats per kind, and the floor no configuration lowers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reaper import config
from reaper.ids import FLOOR, IdFormats, InvalidIdPattern, unsafe_filter_value
from reaper.model import IdentityKind

PROJECT, USER, DOMAIN = IdentityKind.PROJECT, IdentityKind.USER, IdentityKind.DOMAIN


def test_the_defaults_are_what_keystone_generates() -> None:
    formats = IdFormats()
    assert formats.problem(PROJECT, "0123456789abcdef" * 2) is None
    assert formats.problem(USER, "0123456789abcdef" * 4) is None  # sha256 id mapping
    assert formats.problem(DOMAIN, "default") is None
    assert formats.problem(PROJECT, "0123456789ABCDEF" * 2) is not None
    assert formats.problem(USER, "default") is not None


def test_the_options_default_to_the_same_formats() -> None:
    conf = config.make_conf([], config_files=[])
    assert IdFormats.from_conf(conf) == IdFormats()


def test_the_options_are_read_from_reaper_conf(tmp_path) -> None:
    path = tmp_path / "reaper.conf"
    path.write_text("[identity]\nuser_id_pattern = [a-z]+\n")
    formats = IdFormats.from_conf(config.make_conf(["--config-file", str(path)], config_files=[]))
    assert formats.problem(USER, "jdoe") is None
    assert formats.problem(USER, "0123456789abcdef" * 2) is not None
    assert formats.problem(PROJECT, "0123456789abcdef" * 2) is None


def test_a_pattern_must_match_the_whole_id() -> None:
    formats = IdFormats.from_patterns({PROJECT: "[0-9a-f]{4}"})
    assert formats.problem(PROJECT, "abcd") is None
    assert formats.problem(PROJECT, "abcdef") is not None


def test_a_broken_pattern_names_its_option() -> None:
    with pytest.raises(InvalidIdPattern, match=r"\[identity\] domain_id_pattern = '\('"):
        IdFormats.from_patterns({DOMAIN: "("})


@given(st.text(max_size=70))
def test_nothing_with_a_wildcard_clears_the_floor_whatever_the_pattern(value: str) -> None:
    formats = IdFormats.from_patterns({kind: ".*" for kind in IdentityKind})
    accepted = formats.problem(PROJECT, value) is None
    if accepted:
        assert "%" not in value and "*" not in value
        assert 1 <= len(value) <= 64 and value.isprintable() and " " not in value
        assert "/" not in value
    assert accepted == (unsafe_filter_value(value) is None) == bool(FLOOR.fullmatch(value))


@pytest.mark.parametrize("value", ["*", "%", "a*", "%b", None, 42])
def test_wildcards_and_non_strings_are_never_filter_values(value: object) -> None:
    assert unsafe_filter_value(value) is not None
