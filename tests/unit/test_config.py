"""Configuration: every option is documented, grouped, and discoverable by the generator."""

from __future__ import annotations

from oslo_config import cfg

from reaper import config


def test_every_option_has_a_full_sentence_help() -> None:
    reapers_own = {o.dest for o in config.CREDENTIAL_OPTS}
    for group, opts in config.list_opts():
        for opt in opts:
            if group == config.SERVICE_CREDENTIALS_GROUP and opt.dest not in reapers_own:
                continue  # keystoneauth's own options carry keystoneauth's help
            assert opt.help, f"[{group}] {opt.dest} has no help"
            assert opt.help.rstrip().endswith("."), f"[{group}] {opt.dest}: {opt.help!r}"


def test_groups_follow_the_pipeline() -> None:
    groups = {group for group, _ in config.list_opts()}
    assert groups >= {
        None,
        "listener",
        "store",
        "service_credentials",
        "executor",
        "sweep",
        "api",
        "audit",
    }


def test_embedded_defaults_need_no_file_and_are_safe() -> None:
    conf = config.make_conf([], config_files=[])
    assert conf.dry_run is True
    assert conf.listener.exchange == "keystone"
    assert conf.listener.pool == "reaper"
    assert config.store_url(conf).startswith("sqlite:///")


def test_each_conf_is_independent(tmp_path) -> None:
    path = tmp_path / "reaper.conf"
    path.write_text("[DEFAULT]\ndry_run = false\n[store]\nconnection = sqlite:////tmp/x.db\n")
    a = config.make_conf(["--config-file", str(path)], config_files=[])
    b = config.make_conf([], config_files=[])
    assert a.dry_run is False and b.dry_run is True
    assert config.store_url(a) == "sqlite:////tmp/x.db"


def test_keystoneauth_options_are_registered_but_not_required() -> None:
    conf = config.make_conf([], config_files=[])
    creds = conf[config.SERVICE_CREDENTIALS_GROUP]
    assert creds.auth_url is None and creds.cloud is None
    assert isinstance(conf, cfg.ConfigOpts)


def test_store_connection_is_secret() -> None:
    (opt,) = [o for o in config.STORE_OPTS if o.dest == "connection"]
    assert opt.secret
