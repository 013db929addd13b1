"""``reaper config check`` and the controller's preflight: one line per problem, file and option."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from reaper import config, configcheck, controller, sdnotify
from reaper.cleanup.house import House
from reaper.cli.main import ReaperApp

BROKER = "transport_url = rabbit://guest:guest@127.0.0.1:5672/\n"


def _conf(tmp_path: Path, body: str) -> tuple[Path, object]:
    path = tmp_path / "reaper.conf"
    path.write_text(body)
    return path, config.make_conf(["--config-file", str(path)])


def _lines(tmp_path: Path, body: str) -> list[str]:
    _, conf = _conf(tmp_path, body)
    return [str(p) for p in configcheck.errors(configcheck.file_problems(conf))]


def test_a_typo_in_protected_project_ids_is_an_error_that_names_the_right_option(tmp_path) -> None:
    lines = _lines(tmp_path, f"[DEFAULT]\n{BROKER}protected_projects_ids = abc\n")
    assert lines == [
        f"{tmp_path}/reaper.conf: [DEFAULT] protected_projects_ids: unknown option "
        "(did you mean protected_project_ids?)"
    ]


def test_a_value_of_the_wrong_type_is_found_before_any_apply(tmp_path) -> None:
    lines = _lines(tmp_path, f"[DEFAULT]\n{BROKER}[executor]\ncompute_concurrency = lots\n")
    assert len(lines) == 1
    assert lines[0].startswith(
        f"{tmp_path}/reaper.conf: [executor] compute_concurrency: invalid value 'lots'"
    )


def test_a_value_below_its_minimum_is_an_error(tmp_path) -> None:
    lines = _lines(tmp_path, f"[DEFAULT]\n{BROKER}workers = 0\n")
    assert len(lines) == 1 and "[DEFAULT] workers: invalid value '0'" in lines[0]


def test_an_unknown_section_and_a_plugin_option_typo(tmp_path) -> None:
    lines = _lines(
        tmp_path,
        f"[DEFAULT]\n{BROKER}[sevice_credentials]\ncloud = x\n"
        "[service_credentials]\nauth_type = password\nauth_url = http://k/v3\nusernme = reaper\n",
    )
    assert lines == [
        f"{tmp_path}/reaper.conf: [sevice_credentials]: unknown section "
        "(did you mean service_credentials?)",
        f"{tmp_path}/reaper.conf: [service_credentials] usernme: unknown option "
        "(did you mean username?)",
    ]


def test_a_missing_transport_url_is_an_error_not_a_guest_on_localhost(tmp_path) -> None:
    (line,) = _lines(tmp_path, "[DEFAULT]\nhost = r1\n")
    assert line.startswith(f"{tmp_path}/reaper.conf: [DEFAULT] transport_url: not set")


def test_the_notifications_transport_url_counts(tmp_path) -> None:
    body = "[oslo_messaging_notifications]\n" + BROKER + "[oslo_messaging_rabbit]\n"
    assert _lines(tmp_path, body + "heartbeat_timeout_threshold = 10\n") == []


def test_an_empty_protected_project_ids_is_a_warning(tmp_path) -> None:
    _, conf = _conf(tmp_path, f"[DEFAULT]\n{BROKER}")
    (warning,) = configcheck.protection_warnings(conf)
    assert str(warning).startswith("warning: [DEFAULT] protected_project_ids: is empty")
    _, conf = _conf(tmp_path, f"[DEFAULT]\n{BROKER}protected_project_ids = {'a' * 32}\n")
    assert configcheck.protection_warnings(conf) == []


def test_the_empty_protected_project_ids_warning_names_the_always_protected_projects(
    tmp_path,
) -> None:
    _, conf = _conf(tmp_path, f"[DEFAULT]\n{BROKER}")
    (warning,) = configcheck.protection_warnings(conf, House("p-service", "p-admin"))
    assert (
        "only reaper's own project (p-service) and the admin project ('admin' in domain "
        "'Default', p-admin) are always protected"
    ) in str(warning)
    (warning,) = configcheck.protection_warnings(conf)
    assert (
        "only reaper's own project and the admin project ('admin' in domain 'Default') "
        "are always protected"
    ) in str(warning)


def test_the_warning_names_the_admin_project_reaper_conf_names(tmp_path) -> None:
    body = f"[DEFAULT]\n{BROKER}admin_project_name = cloud-admin\n"
    _, conf = _conf(tmp_path, body + "admin_project_domain_name = infra\n")
    (warning,) = configcheck.protection_warnings(conf, House("p-service", "p-cloud-admin"))
    assert "the admin project ('cloud-admin' in domain 'infra', p-cloud-admin)" in str(warning)


def _check(tmp_path: Path, body: str) -> tuple[int, str]:
    path = tmp_path / "reaper.conf"
    path.write_text(body)
    app = ReaperApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    rc = app.run(["-q", "--config-file", str(path), "config", "check", "--offline"])
    return rc, app.stdout.getvalue()


def test_config_check_exits_1_with_one_line_per_problem(tmp_path) -> None:
    rc, out = _check(
        tmp_path,
        f"[DEFAULT]\n{BROKER}state_path = {tmp_path}\nprotected_projects_ids = a\n"
        "[executor]\ncompute_concurrency = lots\n",
    )
    assert rc == 1
    errors = [line for line in out.splitlines() if not line.startswith("warning:")]
    assert [e.split(": ")[1] for e in errors] == [
        "[DEFAULT] protected_projects_ids",
        "[executor] compute_concurrency",
    ]


def test_config_check_of_a_good_file_says_ok_and_creates_no_store(tmp_path) -> None:
    rc, out = _check(
        tmp_path, f"[DEFAULT]\n{BROKER}state_path = {tmp_path}/state\nprotected_project_ids = a\n"
    )
    assert rc == 0, out
    assert out.splitlines() == [
        f"warning: [DEFAULT] state_path: {tmp_path}/state/reaper.sqlite does not exist yet; "
        "the controller creates it",
        f"{tmp_path}/reaper.conf: OK",
    ]
    assert not (tmp_path / "state").exists()


def test_config_check_reports_broken_policies(tmp_path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("policies:\n  - name: x\n")
    rc, out = _check(
        tmp_path, f"[DEFAULT]\n{BROKER}state_path = {tmp_path}\npolicy_paths = {policy}\n"
    )
    assert rc == 1
    assert any(line.startswith("[DEFAULT] policy_paths: ") for line in out.splitlines())


def test_the_controller_refuses_a_broken_config_with_one_log_line(tmp_path, capsys) -> None:
    path = tmp_path / "reaper.conf"
    path.write_text(f"[DEFAULT]\n{BROKER}state_path = {tmp_path}\nprotected_projects_ids = a\n")
    assert controller.main(["--config-file", str(path)]) == 1
    err = capsys.readouterr()
    errors = [line for line in (err.out + err.err).splitlines() if '"error"' in line]
    assert len(errors) == 1 and "protected_projects_ids" in errors[0]
    assert "Traceback" not in err.err
    assert not (tmp_path / "reaper.sqlite").exists()


def test_broken_credentials_do_not_stop_the_controller_from_starting(tmp_path, capsys) -> None:
    """It starts, keeps notifications and waits (issue 12); only the log says what is wrong."""
    path = tmp_path / "reaper.conf"
    path.write_text(
        f"[DEFAULT]\n{BROKER}state_path = {tmp_path}\n[service_credentials]\nauth_type = passwrd\n"
    )
    conf = config.make_conf(["--config-file", str(path)])
    assert controller.preflight(conf) is None
    err = capsys.readouterr()
    assert "passwrd" in err.out + err.err and "tombstones wait" in err.out + err.err


def test_the_controller_refuses_an_unreadable_config_with_one_log_line(tmp_path, capsys) -> None:
    assert controller.main(["--config-file", str(tmp_path / "missing.conf")]) == 1
    err = capsys.readouterr()
    assert "missing.conf" in err.out + err.err and "Traceback" not in err.err


def test_the_controller_refuses_an_unreachable_broker(tmp_path, capsys) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    path = tmp_path / "reaper.conf"
    path.write_text(
        f"[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:{port}/\n"
        f"state_path = {tmp_path}\n"
    )
    assert controller.main(["--config-file", str(path)]) == 1
    err = capsys.readouterr()
    assert f"broker 127.0.0.1:{port} cannot be reached" in err.out + err.err


def test_sd_notify_sends_one_datagram_to_the_socket_systemd_gives(tmp_path) -> None:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(address)
        assert sdnotify.notify("READY=1\nSTATUS=up", {"NOTIFY_SOCKET": address})
        assert systemd.recv(4096) == b"READY=1\nSTATUS=up"


def test_sd_notify_understands_abstract_sockets(tmp_path) -> None:
    name = f"reaper-test-{tmp_path.name}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind("\0" + name)
        assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert systemd.recv(4096) == b"READY=1"


def test_sd_notify_outside_systemd_does_nothing() -> None:
    assert sdnotify.notify("READY=1", {}) is False


@pytest.mark.parametrize("name", ["reaper", "oslo.messaging"])
def test_the_namespaces_checked_are_the_sample_generators(name: str) -> None:
    generator = Path(__file__).parents[2] / "etc/reaper/reaper-config-generator.conf"
    assert f"namespace = {name}" in generator.read_text()
    assert name in configcheck.NAMESPACES
