"""Where credentials come from (precedence), and what an operator is told when they fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from openstack import exceptions as sdk_exc

from reaper import config
from reaper.cleanup.verify import VerificationError
from reaper.credentials import (
    CredentialError,
    CredentialSource,
    Origin,
    Reason,
    describe,
    explain,
    resolve,
)

PASSWORD = "[service_credentials]\nauth_type = password\nauth_url = http://ks:5000/v3\n"
OPENRC = {"OS_AUTH_URL": "http://ks:5000/v3", "OS_USERNAME": "admin"}


def conf_with(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "reaper.conf"
    path.write_text(text)
    return config.make_conf(["--config-file", str(path)], config_files=[])


# -- precedence ---------------------------------------------------------------------------


def test_the_command_line_beats_the_environment_and_the_file(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, "[service_credentials]\ncloud = from-file\n")
    source = resolve(conf, os_cloud="from-option", environ={"OS_CLOUD": "from-env", **OPENRC})
    assert (source.origin, source.cloud) == (Origin.OPTION, "from-option")


def test_os_cloud_beats_an_openrc_and_the_file(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, "[service_credentials]\ncloud = from-file\n")
    source = resolve(conf, environ={"OS_CLOUD": "from-env", **OPENRC})
    assert (source.origin, source.cloud) == (Origin.OS_CLOUD, "from-env")


def test_an_openrc_beats_the_file(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, PASSWORD)
    source = resolve(conf, environ={**OPENRC, "OS_AUTH_TYPE": "v3applicationcredential"})
    assert (source.origin, source.auth_type) == (Origin.ENVIRONMENT, "v3applicationcredential")


def test_variables_that_only_select_or_tune_are_not_credentials(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, PASSWORD)
    source = resolve(conf, environ={"OS_REGION_NAME": "RegionTwo", "OS_INTERFACE": "internal"})
    assert (source.origin, source.auth_type) == (Origin.CONFIG_AUTH, "password")


def test_the_file_names_a_cloud_or_a_plugin_but_not_both(tmp_path: Path) -> None:
    assert resolve(
        conf_with(tmp_path, "[service_credentials]\ncloud = c\n"), environ={}
    ).origin is (Origin.CONFIG_CLOUD)
    both = conf_with(tmp_path, PASSWORD + "cloud = c\n")
    with pytest.raises(CredentialError, match="sets both cloud = c and auth_type = password"):
        resolve(both, environ={})


def test_no_credentials_anywhere_says_every_way_to_give_them(tmp_path: Path) -> None:
    with pytest.raises(CredentialError) as raised:
        resolve(conf_with(tmp_path, "[DEFAULT]\n"), environ={})
    message = str(raised.value)
    assert "--os-cloud" in message and "OS_CLOUD" in message
    assert f"[service_credentials] of {tmp_path / 'reaper.conf'}" in message
    assert raised.value.reason is Reason.CONFIG


def test_the_one_line_names_files_credentials_and_store(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, PASSWORD)
    line = describe(resolve(conf, environ={"OS_CLOUD": "admin"}), conf, "sqlite:////x.db")
    assert line == (
        f"reaper: config {tmp_path / 'reaper.conf'}; credentials cloud admin (OS_CLOUD); "
        "store sqlite:////x.db"
    )
    assert "\n" not in line


# -- what an operator is told -------------------------------------------------------------

FILE_SOURCE = CredentialSource(
    Origin.CONFIG_AUTH, auth_type="password", config_files=("/etc/reaper/reaper.conf",)
)
CLOUD_SOURCE = CredentialSource(Origin.OPTION, cloud="admin")
ENV_SOURCE = CredentialSource(Origin.ENVIRONMENT, auth_type="password")


def wrapped(exc: BaseException) -> BaseException:
    """As openstacksdk and verification hand keystoneauth's errors up: as a cause."""
    try:
        try:
            raise exc
        except BaseException as inner:
            raise VerificationError("Keystone could not confirm project x") from inner
    except VerificationError as outer:
        return outer


def test_an_unknown_plugin_names_the_option_and_the_plugins_to_use() -> None:
    problem = explain(ks_exc.NoMatchingPlugin("passwrd"), FILE_SOURCE)
    assert problem is not None and problem.reason is Reason.CONFIG
    assert str(problem).startswith(
        "[service_credentials] of /etc/reaper/reaper.conf: auth_type 'passwrd' is not"
    )
    assert "use password or v3applicationcredential" in str(problem)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            FILE_SOURCE,
            "[service_credentials] lacks auth_url, required by auth_type = password: "
            "set it in /etc/reaper/reaper.conf",
        ),
        (CLOUD_SOURCE, "cloud 'admin' of clouds.yaml (--os-cloud) lacks auth_url"),
        (ENV_SOURCE, "the OS_* environment lacks OS_AUTH_URL (auth_type password)"),
    ],
)
def test_a_missing_option_is_named_where_it_is_set(source: CredentialSource, expected: str) -> None:
    (auth_url,) = [o for o in ks_loading.get_plugin_options("password") if o.dest == "auth_url"]
    problem = explain(ks_exc.MissingRequiredOptions([auth_url]), source)
    assert problem is not None and str(problem).startswith(expected)


def test_an_unknown_cloud_says_where_its_name_came_from() -> None:
    problem = explain(sdk_exc.ConfigException("Cloud admin was not found."), CLOUD_SOURCE)
    assert str(problem).startswith("cloud 'admin' (--os-cloud) is not in clouds.yaml")


def test_an_unknown_cloud_lists_the_clouds_of_the_file_read(tmp_path, monkeypatch) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  beta: {auth: {auth_url: http://b}}\n  alpha: {}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    problem = explain(sdk_exc.ConfigException("Cloud admin was not found."), CLOUD_SOURCE)
    assert f"({clouds} has alpha, beta)" in str(problem)


def test_without_any_clouds_yaml_it_says_where_it_looked(monkeypatch) -> None:
    import openstack.config.loader

    # openstacksdk fixes its search path (./, ~/.config/openstack, /etc/openstack) at import.
    searched = openstack.config.loader.CONFIG_FILES
    if any(os.path.exists(f) for f in searched):
        pytest.skip("this machine has a clouds.yaml")
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE", raising=False)
    problem = explain(sdk_exc.ConfigException("Cloud admin was not found."), CLOUD_SOURCE)
    folders = ", ".join(dict.fromkeys(os.path.dirname(f) for f in searched))
    assert f"(no clouds.yaml found in {folders})" in str(problem)
    assert "/etc/openstack" in folders


def test_an_unreachable_keystone_is_named_by_its_url() -> None:
    failure = ks_exc.ConnectFailure(
        "Unable to establish connection to http://ks:1/v3/auth/tokens: [Errno 111] "
        "Connection refused"
    )
    problem = explain(wrapped(failure), FILE_SOURCE, auth_url="http://ks:1/v3")
    assert problem is not None and problem.reason is Reason.UNREACHABLE
    assert str(problem).startswith("cannot reach Keystone at http://ks:1/v3 ([service_credentials]")
    assert "connection refused: check the URL" in str(problem)


def test_a_connection_failure_away_from_keystone_is_not_a_credential_problem() -> None:
    assert explain(ks_exc.ConnectFailure("nova is down"), FILE_SOURCE, keystone=False) is None


@pytest.mark.parametrize(
    ("error", "reason", "expected"),
    [
        (
            ks_exc.Unauthorized("The request you have made requires authentication."),
            Reason.UNAUTHORIZED,
            "were rejected by Keystone at http://ks:5000/v3 (401 Unauthorized)",
        ),
        (
            ks_exc.Forbidden(
                "You are not authorized",
                method="GET",
                url="http://ks:5000/v3/projects/0123",
            ),
            Reason.FORBIDDEN,
            "GET /v3/projects/0123 was refused to the user of [service_credentials] of "
            "/etc/reaper/reaper.conf (403 Forbidden): reaper needs the admin role",
        ),
    ],
)
def test_keystone_refusing_the_credentials_says_what_to_check(
    error: Exception, reason: Reason, expected: str
) -> None:
    problem = explain(wrapped(error), FILE_SOURCE, auth_url="http://ks:5000/v3")
    assert problem is not None and problem.reason is reason
    assert expected in str(problem)
    assert "\n" not in str(problem)


def test_an_sdk_403_names_the_request_it_answered() -> None:
    response = requests.Response()
    response.status_code = 403
    response.url = "http://nova:8774/v2.1/servers/detail?all_tenants=True"
    response.request = requests.Request("GET", response.url).prepare()
    problem = explain(sdk_exc.ForbiddenException(response=response), CLOUD_SOURCE, keystone=False)
    assert str(problem).startswith("GET /v2.1/servers/detail?all_tenants=True was refused")


def test_other_failures_are_not_about_credentials() -> None:
    assert explain(wrapped(ks_exc.NotFound("no such project")), FILE_SOURCE) is None
    assert explain(ValueError("bad plan"), FILE_SOURCE) is None
