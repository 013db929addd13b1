"""reaper's DevStack plugin, run by DevStack's own library against real services.

One DevStack run per module (``stacked``): ``tests/devstack/devstack.sh``
sources DevStack's ``functions``, ``stackrc`` and ``lib/`` from a copy of
DevStack with a ``local.conf`` that says ``enable_plugin reaper <this
checkout>``, then runs ``devstack/settings`` and ``devstack/plugin.sh`` in
the phases and order of stack.sh (source, pre-install, install, post-config,
extra, test-config), unstack.sh (unstack) and clean.sh (clean).

DevStack's functions run for real: ``enable_service``,
``is_service_enabled``, ``run_process``, ``stop_process``, ``iniset``; the
``openstack`` CLI (account and project lookups) against the testbed's
Keystone; the ``mysql`` client (``recreate_database``) against the machine's
MariaDB; ``curl`` (``wait_for_service``) against the testbed's Keystone;
``reaper queue declare`` against the machine's RabbitMQ. Faked, because
they need root, the network or a running systemd: ``sudo``, ``systemctl``,
``pip`` and the requirements repository (see devstack_sandbox.py).

So that runs on one shared testbed and MariaDB never collide, local.conf
gives each run its own service domain (Keystone's ``service`` project and
reaper's service user live there), MariaDB user and database, and listener
pool; the test removes them afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import kombu
import pytest
import yaml

from tests.functional.devstack_sandbox import ROOT, Sandbox, devstack_source, read_ini

if TYPE_CHECKING:
    from configparser import RawConfigParser

    from openstack.connection import Connection

    from tests.testbed import Testbed

pytestmark = pytest.mark.functional

UNIT = "devstack@reaper-controller.service"
MARIADB = ("-h", "127.0.0.1", "-P", "3306", "-uroot")


@dataclasses.dataclass(frozen=True)
class Run:
    """What one DevStack run left behind, phase by phase."""

    sandbox: Sandbox
    domain_id: str
    domain_name: str
    service_project_id: str
    admin_project_id: str
    database: str
    database_user: str
    database_password: str
    service_password: str
    pool: str
    keystone_service_uri: str
    stack_calls: list[str]
    unstack_calls: list[str]
    clean_calls: list[str]
    stackenv: dict[str, str]
    reaper_conf: RawConfigParser
    reaper_conf_text: str
    unit: RawConfigParser
    active_after_stack: frozenset[str]
    active_after_unstack: frozenset[str]
    enabled_after_unstack: frozenset[str]
    queue_after_stack: bool
    database_after_stack: bool
    left_after_clean: frozenset[str]


def _mariadb(*sql: str) -> str:
    if shutil.which("mysql") is None:
        pytest.fail("the mysql client is not installed (Debian: mariadb-client)")
    result = subprocess.run(
        ["mysql", *MARIADB, "-N", "-e", "; ".join(sql)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"MariaDB at 127.0.0.1:3306 (root): {result.stderr.strip()}")
    return result.stdout


def _queue_exists(name: str) -> bool:
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        try:
            conn.channel().queue_declare(queue=name, passive=True)
        except conn.channel_errors:
            return False
        return True


def _delete_queue(name: str) -> None:
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        conn.channel().queue_delete(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clouds_yaml(testbed: Testbed, path: Path) -> None:
    """The clouds DevStack's functions name, as the testbed's admin (write_clouds_yaml's job)."""
    admin = yaml.safe_load(testbed.clouds_yaml.read_text())["clouds"][testbed.cloud_name]
    system = {**admin, "auth": dict(admin["auth"])}
    del system["auth"]["project_name"], system["auth"]["project_domain_name"]
    system["auth"]["system_scope"] = "all"
    path.write_text(
        yaml.safe_dump({"clouds": {"devstack-admin": admin, "devstack-system-admin": system}})
    )


def _active(sandbox: Sandbox, kind: str) -> frozenset[str]:
    folder = sandbox.root / "systemd" / kind
    return frozenset(p.name for p in folder.iterdir()) if folder.is_dir() else frozenset()


@pytest.fixture(scope="module")
def stacked(
    tmp_path_factory: pytest.TempPathFactory, testbed: Testbed, testbed_admin: Connection
) -> Iterator[Run]:
    source = devstack_source()
    if source is None:
        message = "DevStack's source is not here: set REAPER_DEVSTACK_DIR (see shared/DEVSTACK.md)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    token = secrets.token_hex(4)
    sandbox = Sandbox(tmp_path_factory.mktemp("devstack"), source)
    clouds = sandbox.root / "clouds.yaml"
    _clouds_yaml(testbed, clouds)

    # What stack.sh's create_keystone_accounts makes before the plugins'
    # post-config: the service domain and its service project.
    identity = testbed_admin.identity
    domain = identity.create_domain(name=f"reaper-devstack-{token}")
    service_project = identity.create_project(name="service", domain_id=domain.id)
    admin_project = identity.find_project("admin", domain_id="default", ignore_missing=False)

    database = database_user = f"reaper_devstack_{token}"
    database_password = secrets.token_urlsafe(12)
    for host in ("127.0.0.1", "localhost"):
        _mariadb(
            f"CREATE USER '{database_user}'@'{host}' IDENTIFIED BY '{database_password}'",
            f"GRANT ALL ON `{database}`.* TO '{database_user}'@'{host}'",
        )
    pool = f"reaper-devstack-{token}"
    keystone_host = testbed.keystone_url.split("://", 1)[1].split("/", 1)[0]
    service_password = secrets.token_urlsafe(12)
    sandbox.write_local_conf(
        {
            "STACK_USER": os.environ.get("USER") or "root",
            "HOST_IP": "127.0.0.1",
            "SERVICE_HOST": "127.0.0.1",
            "SERVICE_LISTEN_ADDRESS": "127.0.0.1",
            # Keystone is the testbed's: DevStack's own address for it
            # ($KEYSTONE_SERVICE_URI, http://HOST/identity) adds /identity.
            "KEYSTONE_SERVICE_HOST": keystone_host,
            "ADMIN_PASSWORD": "unused-keystone-is-the-testbeds",
            "SERVICE_PASSWORD": service_password,
            "SERVICE_DOMAIN_NAME": domain.name,
            "MYSQL_HOST": "127.0.0.1",
            "DATABASE_USER": database_user,
            "DATABASE_PASSWORD": database_password,
            # DevStack's dbcounter SQLAlchemy plugin is installed by stack.sh's
            # install_database_python, which this run leaves out.
            "MYSQL_GATHER_PERFORMANCE": "False",
            "RABBIT_HOST": "127.0.0.1",
            "RABBIT_USERID": "guest",
            "RABBIT_PASSWORD": "guest",
            "REAPER_POOL": pool,
            "REAPER_DATABASE_NAME": database,
            "REAPER_API_PORT": str(_free_port()),
        },
        # Tempest's extras.d would install Tempest in pre-install.
        extra=["disable_service tempest"],
    )
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds)}
    try:
        stack_calls = sandbox.run("stack", env)
        reaper_conf = read_ini(sandbox.reaper_conf)
        reaper_conf_text = sandbox.reaper_conf.read_text()
        unit = read_ini(sandbox.systemd_dir / UNIT)
        active_after_stack = _active(sandbox, "active")
        queue_after_stack = _queue_exists(pool)
        database_after_stack = database in _mariadb("SHOW DATABASES").split()
        unstack_calls = sandbox.run("unstack", env)
        active_after_unstack = _active(sandbox, "active")
        enabled_after_unstack = _active(sandbox, "enabled")
        clean_calls = sandbox.run("clean", env)
        left = frozenset(
            str(path.relative_to(sandbox.root))
            for path in (sandbox.reaper_conf.parent, sandbox.data_dir / "reaper")
            if path.exists()
        )
        yield Run(
            sandbox=sandbox,
            domain_id=domain.id,
            domain_name=domain.name,
            service_project_id=service_project.id,
            admin_project_id=admin_project.id,
            database=database,
            database_user=database_user,
            database_password=database_password,
            service_password=service_password,
            pool=pool,
            keystone_service_uri=f"http://{keystone_host}/identity",
            stack_calls=stack_calls,
            unstack_calls=unstack_calls,
            clean_calls=clean_calls,
            stackenv=sandbox.stackenv(),
            reaper_conf=reaper_conf,
            reaper_conf_text=reaper_conf_text,
            unit=unit,
            active_after_stack=active_after_stack,
            active_after_unstack=active_after_unstack,
            enabled_after_unstack=enabled_after_unstack,
            queue_after_stack=queue_after_stack,
            database_after_stack=database_after_stack,
            left_after_clean=left,
        )
    finally:
        for user in identity.users(domain_id=domain.id):
            identity.delete_user(user)
        identity.delete_project(service_project)
        identity.update_domain(domain, is_enabled=False)
        identity.delete_domain(domain)
        _mariadb(
            f"DROP DATABASE IF EXISTS `{database}`",
            *(f"DROP USER IF EXISTS '{database_user}'@'{h}'" for h in ("127.0.0.1", "localhost")),
        )
        _delete_queue(pool)


def test_settings_enable_the_controller_service(stacked: Run) -> None:
    assert "reaper-controller" in stacked.stackenv["ENABLED_SERVICES"].split(",")


def test_no_step_needed_more_than_the_fakes_allow(stacked: Run) -> None:
    refused = stacked.sandbox.root / "refused.log"
    assert not refused.exists(), refused.read_text()


def test_install_sets_up_reaper_from_the_plugins_checkout(stacked: Run) -> None:
    dest = stacked.sandbox.dest
    assert (
        f"pip install -c {dest}/requirements/upper-constraints.txt -e {dest}/reaper"
        in stacked.stack_calls
    )


def test_post_config_makes_reapers_service_user_an_admin(
    stacked: Run, testbed_admin: Connection
) -> None:
    identity = testbed_admin.identity
    user = identity.find_user("reaper", domain_id=stacked.domain_id, ignore_missing=False)
    roles = {
        identity.get_role(a.role["id"]).name
        for a in identity.role_assignments(
            user_id=user.id, scope_project_id=stacked.service_project_id
        )
    }
    assert roles == {"admin", "service"}


def test_post_config_writes_reaper_conf_for_the_cloud(stacked: Run) -> None:
    conf = stacked.reaper_conf
    data_dir = stacked.sandbox.data_dir
    assert conf.get("DEFAULT", "transport_url") == "rabbit://guest:guest@127.0.0.1:5672/"
    assert conf.get("DEFAULT", "dry_run") == "False"
    assert conf.get("DEFAULT", "state_path") == f"{data_dir}/reaper"
    protected = conf.get("DEFAULT", "protected_project_ids").split(",")
    assert protected == [stacked.admin_project_id, stacked.service_project_id]
    assert dict(conf.items("listener")) == {
        "pool": stacked.pool,
        "exchange": "keystone",
        "topics": "notifications",
    }


def test_post_config_gives_reaper_keystoneauth_credentials(stacked: Run) -> None:
    assert dict(stacked.reaper_conf.items("service_credentials")) == {
        "auth_type": "password",
        "interface": "public",
        "auth_url": stacked.keystone_service_uri,
        "username": "reaper",
        "password": stacked.service_password,
        "user_domain_name": stacked.domain_name,
        "project_name": "service",
        "project_domain_name": stacked.domain_name,
        "region_name": "RegionOne",
    }


def test_post_config_puts_the_store_on_devstacks_mysql(stacked: Run) -> None:
    assert stacked.database_after_stack
    assert stacked.reaper_conf.get("store", "connection") == (
        f"mysql+pymysql://{stacked.database_user}:{stacked.database_password}"
        f"@127.0.0.1/{stacked.database}?charset=utf8"
    )


def test_reapers_queue_is_declared_before_keystone_restarts(stacked: Run) -> None:
    calls = stacked.stack_calls
    conf = stacked.sandbox.reaper_conf
    declare = calls.index(f"reaper --config-file {conf} queue declare")
    restart = calls.index("systemctl --user restart devstack@keystone")
    assert declare < restart
    assert stacked.queue_after_stack


def test_keystone_restarts_with_its_notifications_on(stacked: Run) -> None:
    seen = sorted((stacked.sandbox.root / "systemd" / "seen").glob("*-restart-keystone"))
    assert len(seen) == 1
    keystone = read_ini(seen[0] / "keystone.conf")
    assert dict(keystone.items("oslo_messaging_notifications")) == {
        "driver": "messagingv2",
        "topics": "notifications",
        "transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
    }
    assert keystone.get("DEFAULT", "notification_format") == "cadf"


def test_extra_writes_and_starts_the_controllers_unit(stacked: Run) -> None:
    bin_dir = stacked.sandbox.venv_bin
    assert stacked.unit.get("Service", "ExecStart") == (
        f"{bin_dir}/reaper-controller --config-file {stacked.sandbox.reaper_conf}"
    )
    assert stacked.unit.get("Service", "User") == (os.environ.get("USER") or "root")
    calls = stacked.stack_calls
    assert calls.index(f"systemctl --user enable {UNIT}") < calls.index(
        f"systemctl --user start {UNIT}"
    )
    assert UNIT in stacked.active_after_stack


def test_unstack_stops_the_controller(stacked: Run) -> None:
    assert f"systemctl --user stop {UNIT}" in stacked.unstack_calls
    assert f"systemctl --user disable {UNIT}" in stacked.unstack_calls
    assert UNIT not in stacked.active_after_unstack
    assert UNIT not in stacked.enabled_after_unstack


def test_clean_removes_reapers_state_and_configuration(stacked: Run) -> None:
    assert stacked.left_after_clean == frozenset()


def _with_testbed_addresses(text: str, run: Run, testbed: Testbed) -> str:
    """The plugin's reaper.conf with only its addresses moved to the testbed.

    DevStack's Keystone URL (``http://HOST/identity``, from
    ``KEYSTONE_SERVICE_URI``) becomes the testbed Keystone's, and the
    transport URL (RabbitMQ's default vhost) the testbed's own vhost, where
    its Keystone publishes. Everything else, the whole of
    [service_credentials] and the MariaDB store the plugin created, is as
    the plugin wrote it.
    """
    rewritten = text.replace(
        f"auth_url = {run.keystone_service_uri}\n", f"auth_url = {testbed.keystone_url}\n"
    ).replace(
        "transport_url = rabbit://guest:guest@127.0.0.1:5672/\n",
        f"transport_url = {testbed.transport_url}\n",
    )
    assert rewritten.count(testbed.keystone_url) == 1
    assert rewritten.count(testbed.transport_url) == 1
    return rewritten


def _deleted_project(admin: Connection, *, kept: bool) -> tuple[str, str]:
    """A project with one network, deleted in Keystone: (project id, network id)."""
    project = admin.identity.create_project(name=f"devstack-{secrets.token_hex(3)}")
    network = admin.network.create_network(name=f"{project.name}-net", project_id=project.id)
    if kept:
        admin.network.set_tags(network, ["reaper:keep"])
    admin.identity.delete_project(project)
    return project.id, network.id


def test_the_written_conf_runs_reaper_plan_and_the_controller_against_the_cloud(
    stacked: Run, testbed: Testbed, testbed_admin: Connection
) -> None:
    conf = stacked.sandbox.reaper_conf  # clean removed it: written again, addresses moved
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(_with_testbed_addresses(stacked.reaper_conf_text, stacked, testbed))
    (stacked.sandbox.data_dir / "reaper").mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}

    kept_project, kept_network = _deleted_project(testbed_admin, kept=True)
    try:
        plan = subprocess.run(
            [
                *(str(stacked.sandbox.venv_bin / "reaper"), "--config-file", str(conf)),
                *("plan", "--project", kept_project, "-f", "json"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert plan.returncode == 0, plan.stderr
        verdicts = {row["ID"]: row["Verdict"] for row in json.loads(plan.stdout)}
        assert verdicts.get(kept_network) == "protect", plan.stdout
    finally:
        testbed_admin.network.delete_network(kept_network, ignore_missing=True)

    # The controller as its unit runs it: the unit's own command line.
    log_path = stacked.sandbox.root / "reaper-controller.log"
    with log_path.open("wb") as log:
        controller = subprocess.Popen(
            shlex.split(stacked.unit.get("Service", "ExecStart")),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "controller started" not in log_path.read_text(errors="replace"):
            assert controller.poll() is None, log_path.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
        _project, network = _deleted_project(testbed_admin, kept=False)
        deadline = time.monotonic() + 240
        while testbed_admin.network.find_network(network) is not None:
            assert controller.poll() is None, log_path.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-4000:]
            time.sleep(1)
    finally:
        controller.terminate()
        controller.wait(120)


def test_the_plugin_is_bashate_clean() -> None:
    bashate = shutil.which("bashate", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if bashate is None:
        pytest.fail("bashate is not installed (test-requirements.txt)")
    result = subprocess.run(
        [
            bashate,
            "-i",
            "E006",
            str(ROOT / "devstack" / "plugin.sh"),
            str(ROOT / "devstack" / "settings"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
