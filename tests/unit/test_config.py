"""Configuration: every option is documented, grouped, and discoverable by the generator."""

from __future__ import annotations

from keystoneauth1 import loading as ks_loading
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


def test_no_credentials_are_required_to_read_the_configuration() -> None:
    conf = config.make_conf([], config_files=[])
    creds = conf[config.SERVICE_CREDENTIALS_GROUP]
    assert creds.auth_type is None and creds.cloud is None
    assert isinstance(conf, cfg.ConfigOpts)


def test_store_connection_is_secret() -> None:
    (opt,) = [o for o in config.STORE_OPTS if o.dest == "connection"]
    assert opt.secret


def test_keystoneauth_password_options_in_service_credentials_load_a_plugin(tmp_path) -> None:
    # Regression: reaper registered copies of the password plugin's options and
    # keystoneauth's loader registered the originals again (DuplicateOptError).
    path = tmp_path / "reaper.conf"
    path.write_text(
        "[service_credentials]\n"
        "auth_type = password\n"
        "auth_url = http://keystone.example:5000/v3\n"
        "username = reaper\n"
        "password = secret\n"
        "project_name = service\n"
        "user_domain_name = Default\n"
        "project_domain_name = Default\n"
    )
    conf = config.make_conf(["--config-file", str(path)], config_files=[])

    auth = ks_loading.load_auth_from_conf_options(conf, config.SERVICE_CREDENTIALS_GROUP)

    assert auth.auth_url == "http://keystone.example:5000/v3"
    assert conf.service_credentials.username == "reaper"


def test_the_sample_config_lists_the_documented_plugins_options() -> None:
    (listed,) = [opts for group, opts in config.list_opts() if group == "service_credentials"]
    names = {o.dest for o in listed}
    assert {"auth_type", "auth_url", "username", "password", "project_name"} <= names
    assert {"application_credential_id", "application_credential_secret"} <= names
    assert {"cloud", "region_name", "interface", "cafile", "timeout"} <= names


def test_every_group_module_is_listed_once() -> None:
    # A group declared in reaper/conf/ but missing from GROUP_MODULES would be
    # read by no run and shown in no sample.
    import pkgutil

    import reaper.conf

    declared = {m.name for m in pkgutil.iter_modules(reaper.conf.__path__)}
    listed = [m.__name__.rpartition(".")[2] for m in config.GROUP_MODULES]
    assert sorted(listed) == sorted(declared - {"service_credentials"})
    assert len({m.GROUP for m in config.GROUP_MODULES}) == len(listed)
