"""The services' configuration files, written into the run directory.

One function per service returns its files as ``{relative path: {section: {key: value}}}``;
``write_all`` renders them as INI files under ``<run dir>/etc/<service>/`` and copies the
stock paste pipelines from the venv (the wheels install them under ``<venv>/etc/``).

oslo.config reads ``value  # comment`` literally, so nothing here ever puts a comment on a
value's line.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

from .state import RunState

Sections = dict[str, dict[str, str]]
Files = dict[str, Sections]

HOST = "127.0.0.1"
#: The cinder backend, and the ``volume_backend_name`` the testbed's volume type asks for.
VOLUME_BACKEND = "fake"
VOLUME_TYPE = "testbed"
#: The physical network of the external (floating IP) network.
PHYSICAL_NETWORK = "public"
#: The name of the ML2 driver that binds every port (support/pyproject.toml registers it).
MECHANISM_DRIVER = "reaper_bind_all"
#: Allocation ratios: FakeDriver's 1000 vCPUs would do, but raised ratios make room for
#: benchmark-sized tenants whatever flavors they use.
ALLOCATION_RATIOS = {"cpu": "64.0", "ram": "4.0", "disk": "4.0"}
SERVICE_USERS = ("nova", "cinder", "neutron", "glance", "placement")
#: Concurrent requests per API process (gunicorn threads). With the pools of ``database``
#: it bounds the API's database connections: ~16 engines of at most 17 fit the private
#: server's 300. (RPC services keep oslo.messaging's 64 handlers: with 4, nova-compute's
#: attach casts starved its RPC calls into timeouts.)
WORKER_THREADS = 8


def render(sections: Sections) -> str:
    """INI text; values are written verbatim, comments never share a line with a value."""
    out = []
    for section, options in sections.items():
        out.append(f"[{section}]")
        out.extend(f"{key} = {value}" for key, value in options.items())
        out.append("")
    return "\n".join(out)


def keystone_base(state: RunState) -> str:
    return f"http://{HOST}:{state.ports['keystone']}"


def password_auth(state: RunState, user: str) -> dict[str, str]:
    """keystoneauth password options for a service user on the ``service`` project."""
    return {
        "auth_type": "password",
        "auth_url": f"{keystone_base(state)}/v3",
        "username": user,
        "password": state.service_password,
        "project_name": "service",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region_name": state.region,
    }


#: The catalog type of each core service user's API (keystonemiddleware's ``service_type``).
SERVICE_TYPES = {
    "nova": "compute",
    "cinder": "block-storage",
    "neutron": "network",
    "glance": "image",
    "placement": "placement",
}


def authtoken(state: RunState, user: str, service_type: str | None = None) -> dict[str, str]:
    """keystonemiddleware: validate users' tokens against the run's real keystone."""
    options = password_auth(state, user)
    options["www_authenticate_uri"] = keystone_base(state)
    options["service_token_roles_required"] = "True"
    options["service_type"] = service_type or SERVICE_TYPES[user]
    return options


def _service_user(state: RunState, user: str) -> dict[str, str]:
    return {"send_service_user_token": "True", **password_auth(state, user)}


def common(state: RunState, service: str) -> dict[str, str]:
    """[DEFAULT] options every service shares: its host name, paths, the run's broker."""
    return {
        "host": f"testbed-{state.run_id}",
        "state_path": str(state.layout.data_dir(service)),
        "transport_url": state.transport_url,
        "debug": "False",
        # oslo.service waits up to 60 s for in-flight work on SIGTERM; a testbed has none
        # worth waiting for, and ``down`` would SIGKILL it after a few seconds anyway.
        "graceful_shutdown_timeout": "2",
    }


def database(state: RunState, name: str) -> dict[str, str]:
    """A database section whose pools stay small when idle and bounded under load.

    oslo.db allows 5 + 50 overflow connections per engine, and a testbed has ~16 engines
    (nova alone opens the API, cell0 and cell1 databases in three processes): a burst of
    volume creations took 41 connections to cinder's database alone, and two testbeds
    plus other tests exhausted PostgreSQL's default ``max_connections`` of 100, which
    every service answers with 500s. The bound must still exceed what concurrent
    requests hold: a placement request can hold two connections at once, and with eight
    gunicorn threads a pool of six deadlocked (every thread waiting for its second).
    """
    return {
        "connection": state.database_url(name),
        "max_pool_size": "1",
        "max_overflow": str(2 * WORKER_THREADS),
        "pool_timeout": "60",
    }


def locks(state: RunState, service: str) -> dict[str, str]:
    return {"lock_path": str(state.layout.data_dir(service) / "locks")}


def keystone(state: RunState) -> Files:
    etc = state.layout.etc_dir("keystone")
    return {
        "keystone/keystone.conf": {
            "DEFAULT": {
                "debug": "False",
                "notification_format": state.notification_format,
                "transport_url": state.transport_url,
            },
            "database": database(state, "keystone"),
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": str(etc / "fernet-keys")},
            # Keystone's receipt provider checks its own repository at start (MFA receipts);
            # its default, /etc/keystone/fernet-keys/, exists on no fresh machine.
            "fernet_receipts": {"key_repository": str(etc / "fernet-keys")},
            "credential": {"key_repository": str(etc / "credential-keys")},
            # bcrypt's default 12 rounds cost ~0.25 s of CPU per password check; tenant
            # builds authenticate many users on a 2-core machine.
            "identity": {"password_hash_rounds": "4"},
            # Keystone cached, as production Keystones run it (DevStack: memcached): without
            # it every request validates its token and reads projects afresh, 365 ms of CPU
            # per deletion in the reaction benchmark (119 cached). The memory backend is
            # coherent here because Keystone runs one gunicorn process (serve.py's
            # --workers 1): its invalidations on every write reach the one cache there is.
            "cache": {"enabled": "True", "backend": "dogpile.cache.memory"},
            "oslo_messaging_notifications": {
                "driver": "messagingv2",
                "transport_url": state.transport_url,
                "topics": "notifications",
            },
        }
    }


def placement(state: RunState) -> Files:
    return {
        "placement/placement.conf": {
            "DEFAULT": {"debug": "False"},
            "api": {"auth_strategy": "keystone"},
            "placement_database": database(state, "placement"),
            "keystone_authtoken": authtoken(state, "placement"),
        }
    }


def _nova_clients(state: RunState) -> Sections:
    """What both nova.conf and nova-compute.conf need to reach the other services."""
    return {
        "placement": {**password_auth(state, "nova"), "valid_interfaces": "public"},
        "neutron": {**password_auth(state, "nova"), "valid_interfaces": "public"},
        "glance": {"valid_interfaces": "public", "region_name": state.region},
        "cinder": {"os_region_name": state.region, "catalog_info": "block-storage::publicURL"},
        "service_user": _service_user(state, "nova"),
        "oslo_concurrency": locks(state, "nova"),
        "oslo_messaging_notifications": {"driver": "noop"},
    }


def nova(state: RunState) -> Files:
    """nova.conf for the API, conductor and scheduler; nova-compute.conf without databases.

    nova-compute must not see ``[database]`` or ``[api_database]``: it reaches the
    database only through the conductor and refuses to start otherwise.
    """
    data = state.layout.data_dir("nova")
    control: Sections = {
        "DEFAULT": {**common(state, "nova"), "my_ip": HOST},
        "api": {"auth_strategy": "keystone"},
        "api_database": database(state, "nova_api"),
        "database": database(state, "nova"),
        "keystone_authtoken": authtoken(state, "nova"),
        "conductor": {"workers": "1"},
        "scheduler": {"workers": "1"},
        **_nova_clients(state),
    }
    compute: Sections = {
        "DEFAULT": {
            **common(state, "nova"),
            "my_ip": HOST,
            "compute_driver": "fake.FakeDriver",
            "instances_path": str(data / "instances"),
            "cpu_allocation_ratio": ALLOCATION_RATIOS["cpu"],
            "ram_allocation_ratio": ALLOCATION_RATIOS["ram"],
            "disk_allocation_ratio": ALLOCATION_RATIOS["disk"],
        },
        **_nova_clients(state),
    }
    return {"nova/nova.conf": control, "nova/nova-compute.conf": compute}


def glance(state: RunState) -> Files:
    data = state.layout.data_dir("glance")
    etc = state.layout.etc_dir("glance")
    return {
        "glance/glance-api.conf": {
            "DEFAULT": {"debug": "False", "enabled_backends": "fs:file"},
            "database": database(state, "glance"),
            "keystone_authtoken": authtoken(state, "glance"),
            "paste_deploy": {
                "flavor": "keystone",
                "config_file": str(etc / "glance-api-paste.ini"),
            },
            "glance_store": {"default_backend": "fs"},
            "fs": {"filesystem_store_datadir": str(data / "images")},
            "os_glance_staging_store": {"filesystem_store_datadir": str(data / "staging")},
            "os_glance_tasks_store": {"filesystem_store_datadir": str(data / "tasks")},
            "oslo_concurrency": locks(state, "glance"),
            "oslo_messaging_notifications": {"driver": "noop"},
        }
    }


def cinder(state: RunState) -> Files:
    return {
        "cinder/cinder.conf": {
            "DEFAULT": {
                **common(state, "cinder"),
                "my_ip": HOST,
                "auth_strategy": "keystone",
                "api_paste_config": str(state.layout.etc_dir("cinder") / "api-paste.ini"),
                "enabled_backends": VOLUME_BACKEND,
                "default_volume_type": VOLUME_TYPE,
            },
            "database": database(state, "cinder"),
            "keystone_authtoken": authtoken(state, "cinder"),
            "nova": {
                **password_auth(state, "cinder"),
                "token_auth_url": f"{keystone_base(state)}/v3",
                "interface": "public",
            },
            "service_user": _service_user(state, "cinder"),
            VOLUME_BACKEND: {
                "volume_driver": "cinder.tests.fake_driver.FakeLoggingVolumeDriver",
                "volume_backend_name": VOLUME_BACKEND,
            },
            "oslo_concurrency": locks(state, "cinder"),
            "oslo_messaging_notifications": {"driver": "noop"},
        }
    }


def neutron(state: RunState) -> Files:
    """ML2 with no agents: local tenant networks, a flat external one, ports bound by us."""
    return {
        "neutron/neutron.conf": {
            "DEFAULT": {
                **common(state, "neutron"),
                "core_plugin": "ml2",
                "service_plugins": "router",
                "auth_strategy": "keystone",
                "api_paste_config": str(state.layout.etc_dir("neutron") / "api-paste.ini"),
                "allow_overlapping_ips": "True",
                "dhcp_agent_notification": "False",
                "notify_nova_on_port_status_changes": "True",
                "notify_nova_on_port_data_changes": "True",
            },
            "database": database(state, "neutron"),
            "keystone_authtoken": authtoken(state, "neutron"),
            "nova": {**password_auth(state, "neutron"), "endpoint_type": "public"},
            "oslo_concurrency": locks(state, "neutron"),
            "oslo_messaging_notifications": {"driver": "noop"},
        },
        "neutron/plugins/ml2/ml2_conf.ini": {
            "ml2": {
                "type_drivers": "flat,local",
                "tenant_network_types": "local",
                "mechanism_drivers": MECHANISM_DRIVER,
                "extension_drivers": "port_security",
            },
            "ml2_type_flat": {"flat_networks": PHYSICAL_NETWORK},
        },
    }


_PASTE_FILES = {
    "nova": ["api-paste.ini"],
    "glance": ["glance-api-paste.ini"],
    "cinder": ["api-paste.ini"],
    "neutron": ["api-paste.ini"],
}


def all_files(state: RunState) -> Files:
    files: Files = {}
    for build in (keystone, placement, nova, glance, cinder, neutron):
        files.update(build(state))
    return files


def write(state: RunState, files: Files) -> None:
    for relative, sections in files.items():
        path = state.layout.etc / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(sections))


def write_all(state: RunState) -> None:
    """Write every service's configuration and the directories they expect to exist."""
    write(state, all_files(state))
    venv_etc = Path(state.venv) / "etc"
    for service, names in _PASTE_FILES.items():
        for name in names:
            shutil.copy(venv_etc / service / name, state.layout.etc_dir(service) / name)
    for service in ("keystone", "nova", "glance", "cinder", "neutron", "placement"):
        (state.layout.data_dir(service) / "locks").mkdir(parents=True, exist_ok=True)
    write_keystone_keys(state)


def write_keystone_keys(state: RunState) -> None:
    """Keystone's fernet token and credential keys: what fernet_setup and credential_setup do.

    Each repository holds a staged key ``0`` and a primary key ``1``, each 32 random bytes
    in url-safe base64, readable only by the owner. Writing them here spares keystone's
    critical path two ``keystone-manage`` runs (~3.5 s of CPU each) and their
    ``--keystone-user``/``--keystone-group`` dance when running as root.
    """
    for key_dir in ("fernet-keys", "credential-keys"):
        path = state.layout.etc_dir("keystone") / key_dir
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for index in ("0", "1"):
            key_file = path / index
            key_file.write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
            key_file.chmod(0o600)
