"""Barbican: the key manager API (gunicorn), simple crypto, orders handled in the API.

Secrets are encrypted by the ``simple_crypto`` plugin with a key-encryption key made at
setup; orders (``[queue] enable = False``) are processed synchronously by the API, so no
worker runs. Barbican's keystone listener, which deletes a deleted project's secrets
from Barbican's database, is not started: ``barbican_listener`` starts it when asked
(it is what reaper's start-up check looks for).

Barbican reads its configuration only from oslo.config's default places (its WSGI
script and ``simple_crypto`` re-parse with no arguments), so every Barbican process
runs with ``HOME`` at the run's ``etc/barbican``, which holds ``.barbican/barbican.conf``
(``reaper_testbed_support.barbican_api`` says more).

Its database is on the machine's MariaDB, as Designate's: on PostgreSQL the simple crypto
plugin's wrapped project keys (bytes, in a text column) come back as ``\\x...`` hex text,
and every secret after a project's first fails with ``InvalidToken`` (500).
"""

from __future__ import annotations

import base64
import os

from ..configs import HOST, Files, authtoken, common, database
from ..processes import Command
from ..services import Api, venv_bin
from ..state import RunState
from . import CatalogEntry, Extra

CONF = "barbican/.barbican/barbican.conf"
PASTE = "barbican/barbican-api-paste.ini"


def home(state: RunState) -> dict[str, str]:
    """The environment that makes a Barbican process read the run's configuration."""
    return {"HOME": str(state.layout.etc_dir("barbican"))}


def apis(state: RunState) -> dict[str, Api]:
    return {
        "barbican-api": Api(
            "barbican-api",
            "reaper_testbed_support.barbican_api:application",
            "/",
            "",
            "HOME",
            (str(state.layout.etc / PASTE),),
            config_dir="barbican",
        )
    }


def files(state: RunState) -> Files:
    kek = base64.urlsafe_b64encode(os.urandom(32)).decode()
    port = state.ports["barbican-api"]
    return {
        CONF: {
            "DEFAULT": {
                **common(state, "barbican"),
                "host_href": f"http://{HOST}:{port}",
            },
            "database": database(state, "barbican"),
            "keystone_authtoken": authtoken(state, "barbican", "key-manager"),
            "secretstore": {"enabled_secretstore_plugins": "store_crypto"},
            "crypto": {"enabled_crypto_plugins": "simple_crypto"},
            "simple_crypto_plugin": {"kek": kek},
            "queue": {"enable": "False"},
            "keystone_notifications": {"enable": "True"},
            "oslo_messaging_notifications": {"driver": "noop"},
        }
    }


def setup(state: RunState) -> list[Command]:
    manage = [venv_bin(state, "barbican-manage"), "db", "upgrade"]
    return [Command("barbican-manage", manage, home(state), cwd=state.layout.run_dir)]


def daemons(state: RunState) -> dict[str, Command]:
    return {}


SERVICE = Extra(
    name="barbican",
    summary="key manager: API with simple crypto, orders handled in the API",
    apis=apis,
    files=files,
    setup=setup,
    daemons=daemons,
    paste=("barbican-api-paste.ini",),
    mysql_databases=("barbican",),
    ports=("barbican-api",),
    service_user="barbican",
    catalog=(CatalogEntry("key-manager", "barbican", "barbican-api"),),
    roles=("creator", "observer", "audit"),
)
