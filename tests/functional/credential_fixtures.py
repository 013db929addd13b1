"""reaper's service user in the testbed's Keystone, made as doc/install.md says.

``service_user`` creates, once per session, a user with the ``admin`` role on
the ``service`` project (``openstack user create`` + ``openstack role add
--project service --user ... admin``) and an application credential of that
user, and deletes the user at the end. The functional tests write each
documented credential form of ``[service_credentials]`` from it.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.testbed.tenant import user_connection

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

#: The fixtures conftest.py re-exports.
__all__ = ["service_user"]


@dataclasses.dataclass(frozen=True)
class ServiceUser:
    """reaper's service user: names, ids and secrets, and where Keystone is."""

    auth_url: str
    region: str
    user_id: str
    user_name: str
    password: str
    project_id: str
    project_name: str
    domain_id: str
    domain_name: str
    application_credential_id: str
    application_credential_secret: str


@pytest.fixture(scope="session")
def service_user(testbed: Testbed, testbed_admin: Connection) -> Iterator[ServiceUser]:
    admin = testbed_admin
    domain = admin.identity.get_domain("default")
    project = admin.identity.find_project("service", domain_id=domain.id, ignore_missing=False)
    password = secrets.token_urlsafe(16)
    user = admin.identity.create_user(
        name=f"reaper-{secrets.token_hex(3)}", password=password, domain_id=domain.id
    )
    try:
        role = admin.identity.find_role("admin", ignore_missing=False)
        admin.identity.assign_project_role_to_user(project, user, role)
        auth_url = str(admin.config.config["auth"]["auth_url"])
        # An application credential is made by its own user, with the roles of its token.
        own = user_connection(auth_url, user.name, password, project.id, testbed.region)
        credential = own.identity.create_application_credential(
            user=user.id, name=f"reaper-{secrets.token_hex(3)}"
        )
        yield ServiceUser(
            auth_url=auth_url,
            region=testbed.region,
            user_id=user.id,
            user_name=user.name,
            password=password,
            project_id=project.id,
            project_name=project.name,
            domain_id=domain.id,
            domain_name=domain.name,
            application_credential_id=credential.id,
            application_credential_secret=credential.secret,
        )
    finally:
        admin.identity.delete_user(user)
