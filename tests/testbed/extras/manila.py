"""Manila: API (gunicorn), scheduler and share service, Manila's own ``DummyDriver``.

The share service runs two backends of ``manila.tests.share.drivers.dummy.DummyDriver``
(shipped in the wheel, as cinder's fake driver is) in driver mode
``driver_handles_share_servers = False``, in one replication domain: a replica needs a
second backend, since the scheduler never puts two replicas of a share on one pool. The
driver only records what it is asked; its built-in delays (seconds per call, to look
like a real array) are set to zero. Shares, snapshots, replicas, access rules, share
groups and share networks all go through the real API, scheduler and share manager.

Once the API answers, ``extras.manila_setup`` creates the share type ``default`` (the
``default_share_type``: snapshots, replication ``readable``, no share servers) and the
share group type ``default`` over it, as an operator would.
"""

from __future__ import annotations

from ..configs import Files, Sections, authtoken, common, database, locks
from ..processes import Command
from ..services import Api, conf_path, helper_command, venv_bin
from ..state import RunState
from . import CatalogEntry, Extra

BACKENDS = ("alpha", "beta")
DRIVER = "manila.tests.share.drivers.dummy.DummyDriver"
REPLICATION_DOMAIN = "testbed_domain"
SHARE_TYPE = "default"
SHARE_GROUP_TYPE = "default"
#: The methods DummyDriver gives a delay of their own (the default delay covers the rest).
DELAYED_METHODS = (
    "ensure_share", "create_share", "get_pool", "do_setup", "_get_pools_info",
    "_update_share_stats", "create_replica", "delete_replica", "promote_replica",
    "update_replica_state", "create_replicated_snapshot", "delete_replicated_snapshot",
    "update_replicated_snapshot",
)  # fmt: skip


def apis(state: RunState) -> dict[str, Api]:
    conf = conf_path(state, "manila/manila.conf")
    return {
        "manila-api": Api(
            "manila-api",
            "manila.wsgi.api:application",
            "/",
            "/v2",
            None,
            ("--config-file", conf),
        )
    }


def _backend(name: str) -> dict[str, str]:
    return {
        "share_driver": DRIVER,
        "driver_handles_share_servers": "False",
        "share_backend_name": name.upper(),
        "replication_domain": REPLICATION_DOMAIN,
        "dummy_driver_default_driver_method_delay": "0",
        "dummy_driver_driver_methods_delays": ",".join(f"{m}:0" for m in DELAYED_METHODS),
    }


def files(state: RunState) -> Files:
    etc = state.layout.etc_dir("manila")
    conf: Sections = {
        "DEFAULT": {
            **common(state, "manila"),
            "auth_strategy": "keystone",
            "api_paste_config": str(etc / "api-paste.ini"),
            "enabled_share_backends": ",".join(BACKENDS),
            "enabled_share_protocols": "NFS,CIFS",
            "default_share_type": SHARE_TYPE,
            "default_share_group_type": SHARE_GROUP_TYPE,
            # The share manager asks the driver for stats every minute by default; the
            # scheduler has no pool to place a share on until the first report arrives.
            "periodic_interval": "5",
            "report_interval": "5",
            # A snapshot of a share that has a replica is "available" only once every
            # replica's copy is, which the share manager checks every 300 s by default: a
            # test taking a snapshot while a replica is being made waited past its timeout.
            "replica_state_update_interval": "5",
        },
        "database": database(state, "manila"),
        "keystone_authtoken": authtoken(state, "manila", "sharev2"),
        "oslo_concurrency": locks(state, "manila"),
        "oslo_messaging_notifications": {"driver": "noop"},
    }
    for backend in BACKENDS:
        conf[backend] = _backend(backend)
    return {"manila/manila.conf": conf}


def _conf(state: RunState) -> str:
    return conf_path(state, "manila/manila.conf")


def setup(state: RunState) -> list[Command]:
    (state.layout.data_dir("manila") / "locks").mkdir(parents=True, exist_ok=True)
    manage = [venv_bin(state, "manila-manage"), "--config-file", _conf(state)]
    return [Command("manila-manage", [*manage, "db", "sync"])]


def daemons(state: RunState) -> dict[str, Command]:
    names = ("manila-scheduler", "manila-share")
    argv = {name: [venv_bin(state, name), "--config-file", _conf(state)] for name in names}
    return {name: Command(name, argv[name], cwd=state.layout.run_dir) for name in names}


def ready(state: RunState) -> list[Command]:
    return [helper_command(state, "extras.manila_setup")]


SERVICE = Extra(
    name="manila",
    summary="shared file systems: API, scheduler, share service, dummy driver",
    apis=apis,
    files=files,
    setup=setup,
    daemons=daemons,
    ready=ready,
    paste=("api-paste.ini",),
    databases=("manila",),
    ports=("manila-api",),
    service_user="manila",
    catalog=(
        CatalogEntry("sharev2", "manilav2", "manila-api"),
        CatalogEntry("shared-file-system", "manila", "manila-api"),
    ),
)
