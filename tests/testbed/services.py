"""What runs: each service's setup commands and long-running processes, as argv and env.

The WSGI-only services (keystone, placement, nova-api, glance, cinder-api, neutron) are
served by ``reaper_testbed_support.serve`` (gunicorn) from their application objects;
the others are their own console scripts. Everything runs from the services' venv.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .configs import HOST, WORKER_THREADS
from .layout import REPO_ROOT
from .processes import Command
from .state import RunState

#: Nova's native-threading mode (no eventlet monkey patching) in every nova process.
_NOVA_ENV = {"OS_NOVA_DISABLE_EVENTLET_PATCHING": "true"}


@dataclass(frozen=True)
class Api:
    """A WSGI service: where it listens and what answers when it is ready."""

    name: str
    app: str
    health_path: str
    catalog_path: str
    config_env: str | None = None
    app_args: tuple[str, ...] = ()
    #: The etc/ directory ``config_env`` points at (default: the API's own name).
    config_dir: str | None = None


def _bin(state: RunState, name: str) -> str:
    return str(Path(state.venv) / "bin" / name)


def _python(state: RunState) -> str:
    return _bin(state, "python")


def _conf(state: RunState, relative: str) -> str:
    return str(state.layout.etc / relative)


def apis(state: RunState) -> dict[str, Api]:
    """The HTTP services, keyed by the name used for ports, logs and pids.

    The core services, then those of the optional services the run has ports for
    (``extras``: started, or being started).
    """
    from .extras import apis as extra_apis

    return {**core_apis(state), **extra_apis(state)}


def core_apis(state: RunState) -> dict[str, Api]:
    """The HTTP services every run starts."""
    cinder_conf = _conf(state, "cinder/cinder.conf")
    return {
        "keystone": Api("keystone", "keystone.wsgi.api:application", "/v3", "/v3",
                        "OS_KEYSTONE_CONFIG_DIR"),
        "placement": Api("placement", "placement.wsgi.api:application", "/", "",
                         "OS_PLACEMENT_CONFIG_DIR"),
        "nova-api": Api("nova-api", "nova.wsgi.osapi_compute:application", "/", "/v2.1",
                        "OS_NOVA_CONFIG_DIR"),
        "glance-api": Api("glance-api", "glance.wsgi.api:application", "/versions", "",
                          "OS_GLANCE_CONFIG_DIR"),
        "cinder-api": Api("cinder-api", "cinder.wsgi.api:application", "/", "/v3",
                          None, ("--config-file", cinder_conf)),
        "neutron-api": Api("neutron-api", "neutron.wsgi.api:application", "/", "",
                           "OS_NEUTRON_CONFIG_DIR"),
    }  # fmt: skip


#: The etc/ directory each API's config-dir variable points at.
_CONFIG_DIRS = {
    "keystone": "keystone",
    "placement": "placement",
    "nova-api": "nova",
    "glance-api": "glance",
    "neutron-api": "neutron",
}


#: For the optional services' modules (``extras/``).
venv_bin, venv_python, conf_path = _bin, _python, _conf


def api_url(state: RunState, name: str, path: str = "") -> str:
    return f"http://{HOST}:{state.ports[name]}{path}"


def api_command(state: RunState, api: Api) -> Command:
    env: dict[str, str] = {}
    if api.config_env:
        config_dir = api.config_dir or _CONFIG_DIRS.get(api.name, api.name)
        env[api.config_env] = str(state.layout.etc_dir(config_dir))
    if api.name == "nova-api":
        env.update(_NOVA_ENV)
    argv = [
        _python(state), "-m", "reaper_testbed_support.serve", api.app,
        "--bind", f"{HOST}:{state.ports[api.name]}",
        "--name", f"{api.name}-{state.run_id}",
        "--threads", str(WORKER_THREADS),
    ]  # fmt: skip
    if api.app_args:
        argv += ["--", *api.app_args]
    return Command(api.name, argv, env, cwd=state.layout.run_dir)


def daemon_commands(state: RunState) -> dict[str, Command]:
    """The non-HTTP services: RPC workers that the APIs cast to."""
    nova_conf = _conf(state, "nova/nova.conf")
    cinder_conf = _conf(state, "cinder/cinder.conf")

    def daemon(name: str, conf: str, env: dict[str, str] | None = None) -> Command:
        return Command(name, [_bin(state, name), "--config-file", conf], env or {},
                       cwd=state.layout.run_dir)  # fmt: skip

    return {
        "nova-conductor": daemon("nova-conductor", nova_conf, _NOVA_ENV),
        "nova-scheduler": daemon("nova-scheduler", nova_conf, _NOVA_ENV),
        "nova-compute": daemon("nova-compute", _conf(state, "nova/nova-compute.conf"), _NOVA_ENV),
        "cinder-scheduler": daemon("cinder-scheduler", cinder_conf),
        "cinder-volume": daemon("cinder-volume", cinder_conf),
    }


def setup_commands(state: RunState) -> dict[str, list[Command]]:
    """Per service, the schema and bootstrap commands to run (in order) before it starts."""
    keystone = [_bin(state, "keystone-manage"), "--config-file",
                _conf(state, "keystone/keystone.conf")]  # fmt: skip
    keystone_v3 = api_url(state, "keystone", "/v3")
    nova = [_bin(state, "nova-manage"), "--config-file", _conf(state, "nova/nova.conf")]
    return {
        "keystone": [
            Command("keystone-manage", [*keystone, "db_sync"]),
            Command("keystone-manage", [
                *keystone, "bootstrap",
                # "=": a password may start with "-" (token_urlsafe), which argparse
                # would otherwise read as an option.
                f"--bootstrap-password={state.admin_password}",
                "--bootstrap-admin-url", keystone_v3,
                "--bootstrap-public-url", keystone_v3,
                "--bootstrap-internal-url", keystone_v3,
                "--bootstrap-region-id", state.region,
            ]),
        ],
        "placement": [
            Command("placement-manage", [_bin(state, "placement-manage"), "--config-file",
                                         _conf(state, "placement/placement.conf"), "db", "sync"]),
        ],
        "nova": [
            Command("nova-manage", [*nova, "api_db", "sync"], _NOVA_ENV),
            Command("nova-manage", [*nova, "cell_v2", "map_cell0", "--database_connection",
                                    state.database_url("nova_cell0")], _NOVA_ENV),
            Command("nova-manage", [*nova, "db", "sync"], _NOVA_ENV),
            Command("nova-manage", [*nova, "cell_v2", "create_cell", "--name", "cell1"], _NOVA_ENV),
        ],
        "glance": [
            Command("glance-manage", [_bin(state, "glance-manage"), "--config-file",
                                      _conf(state, "glance/glance-api.conf"), "db_sync"]),
        ],
        "cinder": [
            Command("cinder-manage", [_bin(state, "cinder-manage"), "--config-file",
                                      _conf(state, "cinder/cinder.conf"), "db", "sync"]),
        ],
        "neutron": [
            Command("neutron-schema", [_python(state), "-m",
                                       "reaper_testbed_support.neutron_schema",
                                       state.database_url("neutron")]),
        ],
    }  # fmt: skip


def helper_command(state: RunState, module: str, *args: str) -> Command:
    """Run one of this package's venv-side scripts (keystone_setup, resources) in the venv.

    They use openstacksdk and nova-manage from the services' venv, so they run there, from
    the repository root so that ``tests.testbed`` is importable.
    """
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "OS_CLIENT_CONFIG_FILE": str(state.layout.clouds_yaml),
    }
    argv = [_python(state), "-m", f"tests.testbed.{module}", state.run_dir, *args]
    return Command(module.replace("_", "-"), argv, env, cwd=REPO_ROOT)
