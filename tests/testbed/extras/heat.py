"""Heat: the orchestration API (gunicorn) and one engine, trusts and a stack-user domain.

Configured as a production Heat is: ``deferred_auth_method = trusts`` (each stack keeps a
Keystone trust from the user who created it to Heat's service user, ``[trustee]``,
delegating all of the user's roles on the project), and a ``heat`` domain for the users
Heat creates for stacks (``stack_user_domain_name``), administered by
``heat_domain_admin`` with the ``admin`` role on that domain (:func:`wire_keystone`,
called by ``keystone_setup``). ``enable_stack_abandon`` is on so that the testbed can
show what abandoning a stack does (tests/testbed/README.md: deleting a stack of a deleted
project). The engine talks to the other services through the catalog's public URLs.
"""

from __future__ import annotations

from typing import Any

from ..configs import Files, authtoken, common, database, keystone_base, locks, password_auth
from ..processes import Command
from ..services import Api, conf_path, venv_bin
from ..state import RunState
from . import CatalogEntry, Extra

STACK_USER_DOMAIN = "heat"
STACK_DOMAIN_ADMIN = "heat_domain_admin"
STACK_USER_ROLE = "heat_stack_user"


def _conf(state: RunState) -> str:
    return conf_path(state, "heat/heat.conf")


def apis(state: RunState) -> dict[str, Api]:
    return {
        "heat-api": Api(
            "heat-api",
            "heat.wsgi.api:application",
            "/healthcheck",
            "/v1/%(project_id)s",
            None,
            ("--config-file", _conf(state)),
        )
    }


def files(state: RunState) -> Files:
    etc = state.layout.etc_dir("heat")
    trustee = password_auth(state, "heat")
    for key in ("project_name", "project_domain_name", "region_name"):
        trustee.pop(key)
    return {
        "heat/heat.conf": {
            "DEFAULT": {
                **common(state, "heat"),
                "num_engine_workers": "1",
                "region_name_for_services": state.region,
                "deferred_auth_method": "trusts",
                "stack_user_domain_name": STACK_USER_DOMAIN,
                "stack_domain_admin": STACK_DOMAIN_ADMIN,
                "stack_domain_admin_password": state.service_password,
                "heat_stack_user_role": STACK_USER_ROLE,
                "enable_stack_abandon": "True",
            },
            "database": database(state, "heat"),
            "keystone_authtoken": authtoken(state, "heat", "orchestration"),
            "trustee": trustee,
            "clients": {"endpoint_type": "publicURL"},
            "clients_keystone": {"auth_uri": keystone_base(state)},
            "paste_deploy": {"api_paste_config": str(etc / "api-paste.ini")},
            "heat_api": {"workers": "1"},
            "oslo_concurrency": locks(state, "heat"),
            "oslo_messaging_notifications": {"driver": "noop"},
        }
    }


def setup(state: RunState) -> list[Command]:
    (state.layout.data_dir("heat") / "locks").mkdir(parents=True, exist_ok=True)
    manage = [venv_bin(state, "heat-manage"), "--config-file", _conf(state)]
    return [Command("heat-manage", [*manage, "db_sync"])]


def daemons(state: RunState) -> dict[str, Command]:
    engine = [venv_bin(state, "heat-engine"), "--config-file", _conf(state)]
    return {"heat-engine": Command("heat-engine", engine, cwd=state.layout.run_dir)}


def wire_keystone(conn: Any, state: RunState) -> None:
    """The stack-user domain and its admin (what ``heat-keystone-setup-domain`` did)."""
    identity = conn.identity
    domain = identity.find_domain(STACK_USER_DOMAIN) or identity.create_domain(
        name=STACK_USER_DOMAIN, description="Users and projects Heat creates for stacks"
    )
    admin = identity.find_user(STACK_DOMAIN_ADMIN, domain_id=domain.id) or identity.create_user(
        name=STACK_DOMAIN_ADMIN, password=state.service_password, domain_id=domain.id
    )
    identity.assign_domain_role_to_user(domain, admin, identity.find_role("admin"))


SERVICE = Extra(
    name="heat",
    summary="orchestration: API and engine, trusts, a stack-user domain",
    apis=apis,
    files=files,
    setup=setup,
    daemons=daemons,
    keystone=wire_keystone,
    rpc_consumers=("engine",),
    paste=("api-paste.ini",),
    databases=("heat",),
    ports=("heat-api",),
    service_user="heat",
    catalog=(CatalogEntry("orchestration", "heat", "heat-api"),),
    roles=(STACK_USER_ROLE, "heat_stack_owner"),
)
