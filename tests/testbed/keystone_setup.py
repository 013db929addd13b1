"""Wire the run's keystone for the other services (runs in the services' venv).

After ``keystone-manage bootstrap`` (admin user and project, region, keystone's own
endpoints, the admin/manager/member/reader/service roles), this adds what the other
services need before they can validate tokens or call each other:

- a ``service`` project, and users nova, cinder, neutron, glance and placement with the
  ``admin`` and ``service`` roles on it (keystonemiddleware's ``service_token_roles``);
- catalog entries with public, internal and admin interfaces for compute (/v2.1),
  block-storage (/v3), network, image and placement. openstacksdk follows these URLs, so
  they carry the run's real ports.

With ``--extras swift,octavia``, it wires optional services instead (``extras/``): their
service users, catalog entries and roles, the roles they give the testbed's admin, and
anything else they wire themselves (Heat's stack-user domain).

Usage: ``python -m tests.testbed.keystone_setup <run dir> [--extras NAMES]`` with
``OS_CLIENT_CONFIG_FILE`` pointing at the run's clouds.yaml.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openstack

from tests.testbed import extras
from tests.testbed.configs import SERVICE_USERS
from tests.testbed.extras import CatalogEntry
from tests.testbed.services import api_url, apis
from tests.testbed.state import RunState

CATALOG = (
    CatalogEntry("compute", "nova", "nova-api"),
    CatalogEntry("block-storage", "cinder", "cinder-api"),
    CatalogEntry("network", "neutron", "neutron-api"),
    CatalogEntry("image", "glance", "glance-api"),
    CatalogEntry("placement", "placement", "placement"),
)
ROLES = ("admin", "service", "member", "reader")


def _role(conn: Any, name: str) -> Any:
    return conn.identity.find_role(name) or conn.identity.create_role(name=name)


def _service_user(conn: Any, name: str, password: str, project: Any, roles: list[Any]) -> None:
    user = conn.identity.find_user(name, domain_id="default") or conn.identity.create_user(
        name=name, password=password, domain_id="default", default_project_id=project.id
    )
    for role in roles:
        conn.identity.assign_project_role_to_user(project, user, role)


def _catalog_entry(conn: Any, state: RunState, entry: CatalogEntry) -> None:
    service = conn.identity.find_service(entry.name) or conn.identity.create_service(
        name=entry.name, type=entry.service_type, enabled=True
    )
    url = api_url(state, entry.api, apis(state)[entry.api].catalog_path)
    existing = {e.interface: e for e in conn.identity.endpoints(service_id=service.id)}
    for interface in ("public", "internal", "admin"):
        if interface not in existing:
            conn.identity.create_endpoint(
                service_id=service.id, interface=interface, url=url, region_id=state.region
            )
        elif existing[interface].url != url:
            # A start that failed half-way chose other ports: the catalog follows the run.
            conn.identity.update_endpoint(existing[interface], url=url)


def main(argv: list[str]) -> int:
    state = RunState.load(Path(argv[0]))
    conn = openstack.connect(cloud=state.cloud_name)
    project = conn.identity.find_project("service", domain_id="default")
    if project is None:
        project = conn.identity.create_project(
            name="service", domain_id="default", description="OpenStack service users"
        )
    users, catalog = list(SERVICE_USERS), list(CATALOG)
    role_names, admin_roles = list(ROLES), []
    chosen: list[extras.Extra] = []
    if argv[1:2] == ["--extras"]:
        chosen = [extras.get(name) for name in extras.parse(argv[2])]
        users = [e.service_user for e in chosen if e.service_user]
        catalog = [entry for e in chosen for entry in e.catalog]
        admin_roles = [role for e in chosen for role in e.admin_roles]
        role_names += [role for e in chosen for role in e.roles]
    roles = {name: _role(conn, name) for name in role_names}
    service_roles = [roles["admin"], roles["service"]]
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [
            pool.submit(_service_user, conn, user, state.service_password, project, service_roles)
            for user in users
        ]
        futures += [pool.submit(_catalog_entry, conn, state, entry) for entry in catalog]
        for future in futures:
            future.result()
    for extra in chosen:
        if extra.keystone:
            extra.keystone(conn, state)
    if admin_roles:
        admin = conn.identity.find_user("admin", domain_id="default")
        admin_project = conn.identity.find_project("admin", domain_id="default")
        for name in admin_roles:
            conn.identity.assign_project_role_to_user(admin_project, admin, roles[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
