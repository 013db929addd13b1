"""Octavia: the API (gunicorn) and the controller worker, with no amphorae.

The ``amphora`` provider runs its real flows in ``octavia-worker``, with Octavia's no-op
amphora, compute and certificate drivers, so no VM is booted (the flow still signs an
amphora certificate: a throwaway CA, ``reaper_testbed_support.octavia_ca``, is made at
setup) and load balancers, listeners,
pools, members and health monitors still go through PENDING_* to ACTIVE and are deleted
by the worker (``?cascade=true`` included). The network driver
(``reaper_testbed_support.octavia_network``) is the no-op one except for VIP ports,
which are real Neutron ports in the load balancer's project and network: they keep the
network from being deleted until the load balancer is, as in a production cloud.

Octavia's alembic migrations are MySQL-only (one drops a constraint called ``PRIMARY``),
so the schema is built from its models (``reaper_testbed_support.octavia_schema``).
"""

from __future__ import annotations

from ..configs import Files, authtoken, common, database, locks, password_auth
from ..processes import Command
from ..services import Api, conf_path, venv_bin, venv_python
from ..state import RunState
from . import CatalogEntry, Extra

#: The oslo.messaging topic the API casts to and the worker consumes.
TOPIC = "octavia_prov"


def apis(state: RunState) -> dict[str, Api]:
    return {
        "octavia-api": Api(
            "octavia-api",
            "octavia.wsgi.api:application",
            "/",
            "",
            None,
            ("--config-file", conf_path(state, "octavia/octavia.conf")),
        )
    }


def files(state: RunState) -> Files:
    etc = state.layout.etc_dir("octavia")
    return {
        "octavia/octavia.conf": {
            "DEFAULT": common(state, "octavia"),
            "api_settings": {
                "auth_strategy": "keystone",
                "default_provider_driver": "amphora",
                "enabled_provider_drivers": "amphora:The Octavia Amphora driver (no-op amphorae)",
            },
            "database": database(state, "octavia"),
            "keystone_authtoken": authtoken(state, "octavia", "load-balancer"),
            "service_auth": password_auth(state, "octavia"),
            "neutron": {"region_name": state.region, "valid_interfaces": "public"},
            "controller_worker": {
                "workers": "1",
                "amphora_driver": "amphora_noop_driver",
                "compute_driver": "compute_noop_driver",
                "network_driver": "reaper_real_vip_driver",
                "volume_driver": "volume_noop_driver",
                "loadbalancer_topology": "SINGLE",
                # The flow reads the CA it hands the amphora agent, even a no-op one.
                "client_ca": str(etc / "ca.pem"),
            },
            "certificates": {
                "cert_manager": "noop_cert_manager",
                "ca_certificate": str(etc / "ca.pem"),
                "ca_private_key": str(etc / "ca.key"),
            },
            "oslo_messaging": {"topic": TOPIC},
            "task_flow": {"jobboard_enabled": "False"},
            "oslo_concurrency": locks(state, "octavia"),
            "oslo_messaging_notifications": {"driver": "noop"},
        }
    }


def setup(state: RunState) -> list[Command]:
    (state.layout.data_dir("octavia") / "locks").mkdir(parents=True, exist_ok=True)
    schema = [venv_python(state), "-m", "reaper_testbed_support.octavia_schema",
              state.database_url("octavia")]  # fmt: skip
    etc = state.layout.etc_dir("octavia")
    ca = [venv_python(state), "-m", "reaper_testbed_support.octavia_ca",
          str(etc / "ca.pem"), str(etc / "ca.key")]  # fmt: skip
    return [Command("octavia-schema", schema), Command("octavia-ca", ca)]


def daemons(state: RunState) -> dict[str, Command]:
    conf = conf_path(state, "octavia/octavia.conf")
    worker = [venv_bin(state, "octavia-worker"), "--config-file", conf]
    return {"octavia-worker": Command("octavia-worker", worker, cwd=state.layout.run_dir)}


SERVICE = Extra(
    name="octavia",
    summary="load balancers: API and worker, no-op amphorae, real VIP ports",
    apis=apis,
    files=files,
    setup=setup,
    daemons=daemons,
    databases=("octavia",),
    ports=("octavia-api",),
    service_user="octavia",
    catalog=(CatalogEntry("load-balancer", "octavia", "octavia-api"),),
    roles=("load-balancer_member", "load-balancer_admin"),
)
