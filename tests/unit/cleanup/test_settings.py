"""The configuration, read once into the value the road carries."""

from __future__ import annotations

import datetime as dt
import os

from reaper import config
from reaper.cleanup.settings import Settings
from reaper.executor import Limits
from reaper.model import IdentityKind, IdentityRef

USER = IdentityRef(IdentityKind.USER, "u-deleted")


def conf_with(**defaults: object) -> object:
    conf = config.make_conf([], config_files=[])
    for name, value in defaults.items():
        conf.set_override(name, value)
    return conf


def test_protected_ids_are_trimmed_and_blanks_dropped() -> None:
    conf = conf_with(
        protected_project_ids=["admin", " service ", ""], protected_domain_ids=["heat"]
    )
    ctx = Settings.from_conf(conf).context("identity.user.deleted", USER)
    assert ctx.protected_project_ids == {"admin", "service"}
    assert ctx.protected_domain_ids == {"heat"}


def test_every_option_the_road_needs_is_read_once_into_plain_values() -> None:
    conf = conf_with(host="ctl-1", dry_run=True)
    conf.set_override("min_age", 90, group="sweep")
    conf.set_override("retry_attempts", 3, group="executor")
    settings = Settings.from_conf(conf)
    # The lease owner is the host, this process and a random part: unique per worker.
    assert settings.owner.startswith(f"ctl-1:{os.getpid()}:")
    assert Settings.from_conf(conf).owner != settings.owner
    assert settings.dry_run is True
    assert settings.sweep_min_age == dt.timedelta(seconds=90)
    assert settings.limits == Limits.from_conf(conf)
    assert settings.limits.retry_attempts == 3


def test_the_context_carries_the_protection_the_trigger_and_the_domain() -> None:
    now = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    settings = Settings(protected_project_ids=frozenset({"p"}), protected_domain_ids=frozenset())
    ctx = settings.context("identity.user.disabled", USER, now=now, domain_id="d-1")
    assert (ctx.trigger, ctx.identity, ctx.now, ctx.domain_id) == (
        "identity.user.disabled",
        USER,
        now,
        "d-1",
    )
    assert ctx.protected_project_ids == {"p"}


def test_the_full_scans_interval_is_read_into_a_duration() -> None:
    conf = conf_with()
    conf.set_override("full_scan_interval", 7200, group="sweep")
    assert Settings.from_conf(conf).sweep_full_scan_interval == dt.timedelta(hours=2)
    assert Settings.from_conf(conf_with()).sweep_full_scan_interval == dt.timedelta(days=1)
