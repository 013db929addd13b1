"""Swift: a proxy and one account, container and object server, on loopback.

Rings with one device and one replica are built at start (``reaper_testbed_support.
swift_rings``) into the run's ``etc/swift``, which is also every server's ``swift_dir``
(so ``/etc/swift`` is never read or written). ``mount_check = false`` lets a plain
directory be the device. The proxy authenticates with keystonemiddleware and authorizes
with ``keystoneauth``: ``member`` and ``admin`` own their project's ``AUTH_<project id>``
account, and ``ResellerAdmin`` (given to the testbed's admin) reaches every account,
which is how reaper reaches a deleted project's. ``allow_account_management`` lets a
reseller admin delete an account. The ``bulk`` (bulk delete), ``slo`` and ``dlo`` (large
objects) middlewares are in the pipeline, as in a production proxy; memcached is
replaced by an in-process cache (``reaper_testbed_support.swift_cache``).
"""

from __future__ import annotations

import secrets

from ..configs import HOST, Files, Sections, authtoken
from ..processes import Command
from ..services import Api, conf_path, venv_bin, venv_python
from ..state import RunState
from . import CatalogEntry, Extra

SERVERS = ("account", "container", "object")
#: The role keystoneauth lets reach every account (its ``reseller_admin_role``).
RESELLER_ADMIN_ROLE = "ResellerAdmin"
DEVICE = "d1"
PROXY_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk slo dlo "
    "authtoken keystoneauth copy container-quotas account-quotas proxy-logging proxy-server"
)


def _server_name(server: str) -> str:
    return f"swift-{server}"


def apis(state: RunState) -> dict[str, Api]:
    # The proxy is eventlet's own server (swift-proxy-server), not gunicorn: Api only
    # says where it answers and what the catalog names.
    return {"swift-proxy": Api("swift-proxy", "", "/healthcheck", "/v1/AUTH_%(project_id)s")}


def _server(state: RunState, server: str) -> Sections:
    return {
        "DEFAULT": {
            "bind_ip": HOST,
            "bind_port": str(state.ports[_server_name(server)]),
            "devices": str(state.layout.data_dir("swift") / "devices"),
            "mount_check": "false",
            "workers": "0",
            "swift_dir": str(state.layout.etc_dir("swift")),
            "log_name": _server_name(server),
        },
        "pipeline:main": {"pipeline": f"{server}-server"},
        f"app:{server}-server": {"use": f"egg:swift#{server}"},
    }


def files(state: RunState) -> Files:
    swift_dir = state.layout.etc_dir("swift")
    proxy: Sections = {
        "DEFAULT": {
            "bind_ip": HOST,
            "bind_port": str(state.ports["swift-proxy"]),
            "workers": "0",
            "swift_dir": str(swift_dir),
            "log_name": "swift-proxy",
        },
        "pipeline:main": {"pipeline": PROXY_PIPELINE},
        "app:proxy-server": {
            "use": "egg:swift#proxy",
            "account_autocreate": "true",
            "allow_account_management": "true",
        },
        "filter:catch_errors": {"use": "egg:swift#catch_errors"},
        "filter:gatekeeper": {"use": "egg:swift#gatekeeper"},
        "filter:healthcheck": {"use": "egg:swift#healthcheck"},
        "filter:proxy-logging": {"use": "egg:swift#proxy_logging"},
        "filter:cache": {
            "paste.filter_factory": "reaper_testbed_support.swift_cache:filter_factory"
        },
        "filter:listing_formats": {"use": "egg:swift#listing_formats"},
        "filter:bulk": {"use": "egg:swift#bulk"},
        "filter:slo": {"use": "egg:swift#slo"},
        "filter:dlo": {"use": "egg:swift#dlo"},
        "filter:authtoken": {
            "paste.filter_factory": "keystonemiddleware.auth_token:filter_factory",
            **authtoken(state, "swift", "object-store"),
            # Swift decides itself (keystoneauth) what an anonymous request may do.
            "delay_auth_decision": "True",
        },
        "filter:keystoneauth": {
            "use": "egg:swift#keystoneauth",
            "operator_roles": "admin, member",
            "reseller_admin_role": RESELLER_ADMIN_ROLE,
        },
        "filter:copy": {"use": "egg:swift#copy"},
        "filter:container-quotas": {"use": "egg:swift#container_quotas"},
        "filter:account-quotas": {"use": "egg:swift#account_quotas"},
    }
    built: Files = {
        "swift/swift.conf": {
            "swift-hash": {
                "swift_hash_path_suffix": secrets.token_hex(8),
                "swift_hash_path_prefix": secrets.token_hex(8),
            },
            "storage-policy:0": {"name": "Policy-0", "default": "yes"},
        },
        "swift/proxy-server.conf": proxy,
    }
    for server in SERVERS:
        built[f"swift/{server}-server.conf"] = _server(state, server)
    return built


def setup(state: RunState) -> list[Command]:
    device = state.layout.data_dir("swift") / "devices" / DEVICE
    device.mkdir(parents=True, exist_ok=True)
    rings = [f"{server}={state.ports[_server_name(server)]}" for server in SERVERS]
    argv = [venv_python(state), "-m", "reaper_testbed_support.swift_rings",
            str(state.layout.etc_dir("swift")), HOST, DEVICE, *rings]  # fmt: skip
    return [Command("swift-rings", argv)]


def _process(state: RunState, name: str, binary: str, conf: str) -> Command:
    # -v: log to the console (the process's log file) as well as to syslog.
    argv = [venv_bin(state, binary), conf_path(state, f"swift/{conf}"), "-v"]
    return Command(name, argv, cwd=state.layout.run_dir)


def daemons(state: RunState) -> dict[str, Command]:
    found = {
        _server_name(server): _process(
            state, _server_name(server), f"swift-{server}-server", f"{server}-server.conf"
        )
        for server in SERVERS
    }
    return found


def api_commands(state: RunState) -> dict[str, Command]:
    return {
        "swift-proxy": _process(state, "swift-proxy", "swift-proxy-server", "proxy-server.conf")
    }


SERVICE = Extra(
    name="swift",
    summary="object storage: proxy, account, container and object servers",
    apis=apis,
    files=files,
    setup=setup,
    daemons=daemons,
    api_commands=api_commands,
    ports=("swift-proxy", *(_server_name(s) for s in SERVERS)),
    service_user="swift",
    catalog=(CatalogEntry("object-store", "swift", "swift-proxy"),),
    roles=(RESELLER_ADMIN_ROLE,),
    admin_roles=(RESELLER_ADMIN_ROLE,),
)
