"""Designate: API (gunicorn), central, worker, producer and mdns, ``fake`` backend.

One pool (Designate's default pool id) has an NS record and one ``fake`` target. The
worker sends each change to the target (the fake backend does nothing) with a DNS NOTIFY,
then polls the pool's nameservers for the zone's new serial before marking it ACTIVE:
both go to designate-mdns, which answers NOTIFY and serves every zone's SOA from the
database. (With no nameserver at all, the poll finds serial 0 and central ignores the
update: zones stay PENDING; and NOTIFYs to a port where nothing answers time out.)

Its database is on the machine's MariaDB (``mysql.py`` says why not PostgreSQL), where
its own migrations build the schema. The pool is loaded with ``designate-manage pool
update``, which talks to central over RPC, so it runs once central consumes.

Admins act on other projects' zones with the ``X-Auth-All-Projects`` and
``X-Auth-Sudo-Project-ID`` headers (openstacksdk's ``all_projects`` and
``project_id`` arguments).
"""

from __future__ import annotations

from ..configs import HOST, Files, authtoken, common, database, locks
from ..processes import Command
from ..services import Api, conf_path, venv_bin
from ..state import RunState
from . import CatalogEntry, Extra

DEFAULT_POOL_ID = "794ccc2c-d751-44fe-b57f-8894c9f5c842"
NS_RECORD = "ns1.testbed.example."
#: A pool's definition, as ``designate-manage pool update`` reads it (YAML; JSON is YAML).
POOLS = f"""\
- name: default
  id: {DEFAULT_POOL_ID}
  description: The testbed's only pool, a fake backend
  attributes: {{}}
  ns_records:
    - hostname: {NS_RECORD}
      priority: 1
  nameservers:
    - host: {HOST}
      port: MDNS_PORT
  targets:
    - type: fake
      description: Nothing behind it; NOTIFY goes to designate-mdns, which answers
      masters: []
      options:
        host: {HOST}
        port: MDNS_PORT
"""


def apis(state: RunState) -> dict[str, Api]:
    # Its own server (oslo.service's eventlet WSGI) refuses oslo.service's threading
    # backend: the application is served by gunicorn, with its config directory.
    return {
        "designate-api": Api(
            "designate-api",
            "designate.wsgi.api:application",
            "/",
            "",
            "OS_DESIGNATE_CONFIG_DIR",
            config_dir="designate",
        )
    }


def _conf(state: RunState) -> str:
    return conf_path(state, "designate/designate.conf")


def files(state: RunState) -> Files:
    etc = state.layout.etc_dir("designate")
    port = state.ports["designate-api"]
    return {
        "designate/designate.conf": {
            "DEFAULT": common(state, "designate"),
            "service:api": {
                "api_base_uri": f"http://{HOST}:{port}/",
                "api_paste_config": str(etc / "api-paste.ini"),
                "auth_strategy": "keystone",
                "enable_api_v2": "True",
                "enable_api_admin": "True",
                "enabled_extensions_admin": "quotas, reports",
                "workers": "1",
            },
            "service:central": {"workers": "1", "default_pool_id": DEFAULT_POOL_ID},
            "service:worker": {
                "workers": "1",
                "poll_delay": "0",
                "poll_retry_interval": "1",
                "poll_max_retries": "1",
            },
            "service:producer": {"workers": "1"},
            "service:mdns": {"workers": "1", "listen": f"{HOST}:{state.ports['designate-mdns']}"},
            "storage:sqlalchemy": database(state, "designate"),
            "keystone_authtoken": authtoken(state, "designate", "dns"),
            "oslo_concurrency": locks(state, "designate"),
            "oslo_messaging_notifications": {"driver": "noop"},
        }
    }


def setup(state: RunState) -> list[Command]:
    (state.layout.data_dir("designate") / "locks").mkdir(parents=True, exist_ok=True)
    pools = POOLS.replace("MDNS_PORT", str(state.ports["designate-mdns"]))
    (state.layout.etc_dir("designate") / "pools.yaml").write_text(pools)
    manage = [venv_bin(state, "designate-manage"), "--config-file", _conf(state)]
    return [Command("designate-manage", [*manage, "database", "sync"])]


def post_start(state: RunState) -> list[Command]:
    pools = str(state.layout.etc_dir("designate") / "pools.yaml")
    manage = [venv_bin(state, "designate-manage"), "--config-file", _conf(state)]
    return [Command("designate-manage", [*manage, "pool", "update", "--file", pools])]


def _daemon(state: RunState, name: str) -> Command:
    return Command(name, [venv_bin(state, name), "--config-file", _conf(state)],
                   cwd=state.layout.run_dir)  # fmt: skip


def daemons(state: RunState) -> dict[str, Command]:
    names = ("designate-central", "designate-worker", "designate-producer", "designate-mdns")
    return {name: _daemon(state, name) for name in names}


SERVICE = Extra(
    name="designate",
    summary="DNS: API, central, worker and producer, fake backend",
    apis=apis,
    files=files,
    setup=setup,
    daemons=daemons,
    post_start=post_start,
    rpc_consumers=("central",),
    paste=("api-paste.ini",),
    mysql_databases=("designate",),
    ports=("designate-api", "designate-mdns"),
    service_user="designate",
    catalog=(CatalogEntry("dns", "designate", "designate-api"),),
)
