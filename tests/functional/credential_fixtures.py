"""reaper's service user in the testbed's Keystone, made as doc/install.md says.

``service_user`` creates, once per session, a user with the ``admin`` role on
the ``service`` project (``openstack user create`` + ``openstack role add
--project service --user ... admin``) and an application credential of that
user, and deletes the user at the end. The functional tests write each
documented credential form of ``[service_credentials]`` from it.
``service_users`` makes more, for tests that change a user's password or
roles, or need one without the ``admin`` role.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.testbed.tenant import user_connection

if TYPE_CHECKING:
    from openstack.connection import Connection

    from tests.testbed import Testbed

#: The fixtures conftest.py re-exports.
__all__ = ["service_user", "service_users"]


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
    role: str
    application_credential_id: str = ""
    application_credential_secret: str = ""

    def options(self) -> dict[str, str]:
        """What each keystoneauth option (and ``OS_*`` variable) of a snippet stands for here."""
        return {
            "auth_url": self.auth_url,
            "username": self.user_name,
            "password": self.password,
            "project_name": self.project_name,
            "user_domain_name": self.domain_name,
            "project_domain_name": self.domain_name,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "region_name": self.region,
            "application_credential_id": self.application_credential_id,
            "application_credential_secret": self.application_credential_secret,
        }


def _create(
    admin: Connection, testbed: Testbed, *, role: str, application_credential: bool
) -> ServiceUser:
    domain = admin.identity.get_domain("default")
    project = admin.identity.find_project("service", domain_id=domain.id, ignore_missing=False)
    password = secrets.token_urlsafe(16)
    user = admin.identity.create_user(
        name=f"reaper-{secrets.token_hex(3)}", password=password, domain_id=domain.id
    )
    admin.identity.assign_project_role_to_user(
        project, user, admin.identity.find_role(role, ignore_missing=False)
    )
    made = ServiceUser(
        auth_url=str(admin.config.config["auth"]["auth_url"]),
        region=testbed.region,
        user_id=user.id,
        user_name=user.name,
        password=password,
        project_id=project.id,
        project_name=project.name,
        domain_id=domain.id,
        domain_name=domain.name,
        role=role,
    )
    if not application_credential:
        return made
    # An application credential is made by its own user, with the roles of its token.
    own = user_connection(made.auth_url, user.name, password, project.id, testbed.region)
    credential = own.identity.create_application_credential(
        user=user.id, name=f"reaper-{secrets.token_hex(3)}"
    )
    return dataclasses.replace(
        made,
        application_credential_id=credential.id,
        application_credential_secret=credential.secret,
    )


@pytest.fixture(scope="session")
def service_user(testbed: Testbed, testbed_admin: Connection) -> Iterator[ServiceUser]:
    """The admin service user of doc/install.md, with an application credential."""
    user = _create(testbed_admin, testbed, role="admin", application_credential=True)
    try:
        yield user
    finally:
        testbed_admin.identity.delete_user(user.user_id)


@pytest.fixture
def service_users(
    testbed: Testbed, testbed_admin: Connection
) -> Iterator[Callable[..., ServiceUser]]:
    """Make service users (``role="member"`` for one that is no admin); deleted at the end."""
    made: list[ServiceUser] = []

    def make(role: str = "admin") -> ServiceUser:
        made.append(_create(testbed_admin, testbed, role=role, application_credential=False))
        return made[-1]

    yield make
    for user in made:
        with contextlib.suppress(Exception):
            testbed_admin.identity.delete_user(user.user_id)
