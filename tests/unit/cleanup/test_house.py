"""Reaper's own and the admin project: named in reaper.conf, their ids asked of Keystone."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from reaper import config
from reaper.cleanup.house import (
    TOKEN_WORD_AGE,
    AdminProject,
    AdminProjectMissing,
    House,
    house,
    house_projects,
)
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import VerificationError
from reaper.model import utcnow

BOOTSTRAP = AdminProject()


class Keystone:
    """Domains and projects as Keystone lists them (``find`` as openstacksdk's, by name or id)."""

    def __init__(self, projects: dict[tuple[str, str], str], failure: Exception | None = None):
        #: (project name, domain id) -> project id
        self.projects_by_key = projects
        self.domains_by_name = {"Default": "default", "infra": "d-infra"}
        self.failure = failure
        self.asked: list[str] = []

    def domains(self, name: str) -> list[Any]:
        self.asked.append(f"domains?name={name}")
        if self.failure:
            raise self.failure
        found = self.domains_by_name.get(name)
        return [SimpleNamespace(id=found)] if found else []

    def find_domain(self, name_or_id: str, ignore_missing: bool) -> Any:
        self.asked.append(f"domain {name_or_id}")
        assert ignore_missing
        return (
            SimpleNamespace(id=name_or_id) if name_or_id in self.domains_by_name.values() else None
        )

    def projects(self, name: str, domain_id: str) -> list[Any]:
        self.asked.append(f"projects?name={name}&domain_id={domain_id}")
        found = self.projects_by_key.get((name, domain_id))
        return [SimpleNamespace(id=found)] if found else []


def conn(own: str | None, keystone: Keystone) -> Any:
    return SimpleNamespace(current_project_id=own, identity=keystone)


class TestTheDefaultNames:
    def test_both_when_keystone_knows_the_admin_project(self) -> None:
        keystone = Keystone({("admin", "default"): "p-admin"})
        assert house(conn("p-service", keystone), BOOTSTRAP) == House("p-service", "p-admin")
        # Two requests side by side: the domain, and the project by name in the bootstrap
        # domain's id (never a GET by the name as id).
        assert sorted(keystone.asked) == [
            "domains?name=Default",
            "projects?name=admin&domain_id=default",
        ]
        assert house_projects(conn("p-service", keystone), BOOTSTRAP) == {"p-service", "p-admin"}

    def test_only_reaper_s_own_when_there_is_no_admin_project(self) -> None:
        assert house(conn("p-service", Keystone({})), BOOTSTRAP) == House("p-service", None)

    def test_credentials_not_scoped_to_a_project_fail_closed(self) -> None:
        keystone = Keystone({("admin", "default"): "p-admin"})
        with pytest.raises(VerificationError, match="not scoped to a project"):
            house(conn(None, keystone), BOOTSTRAP)

    def test_keystone_not_answering_fails_closed(self) -> None:
        keystone = Keystone({}, failure=sdk_exc.HttpException("503"))
        with pytest.raises(VerificationError, match="could not learn"):
            house(conn("p-service", keystone), BOOTSTRAP)


class TestOneRoundTrip:
    def test_the_project_is_listed_while_the_domain_is(self) -> None:
        """Each listing waits for the other to be sent: one after the other, neither returns."""
        together = threading.Barrier(2, timeout=5)
        keystone = Keystone({("admin", "default"): "p-admin"})
        domains, projects = keystone.domains, keystone.projects

        def domains_together(name: str) -> list[Any]:
            together.wait()
            return domains(name)

        def projects_together(name: str, domain_id: str) -> list[Any]:
            together.wait()
            return projects(name, domain_id)

        keystone.domains = domains_together  # type: ignore[method-assign]
        keystone.projects = projects_together  # type: ignore[method-assign]
        assert house(conn("p-service", keystone), BOOTSTRAP) == House("p-service", "p-admin")

    def test_a_default_domain_whose_id_is_not_the_bootstraps_is_asked_again(self) -> None:
        """The guess decides nothing: the project of the id Keystone gives is the one kept."""
        keystone = Keystone({("admin", "default"): "p-wrong", ("admin", "d-moved"): "p-admin"})
        keystone.domains_by_name["Default"] = "d-moved"
        assert house(conn("p-service", keystone), BOOTSTRAP) == House("p-service", "p-admin")
        assert keystone.asked[-1] == "projects?name=admin&domain_id=d-moved"
        assert len(keystone.asked) == 3

    def test_a_domain_named_by_the_operator_is_asked_first(self) -> None:
        keystone = Keystone({("cloud-admin", "d-infra"): "p-cloud-admin"})
        admin = AdminProject("cloud-admin", "infra", required=True)
        assert house(conn("p-service", keystone), admin).admin == "p-cloud-admin"
        assert keystone.asked == [
            "domains?name=infra",
            "projects?name=cloud-admin&domain_id=d-infra",
        ]


class TestNamedByTheOperator:
    def test_another_name_in_another_domain(self, tmp_path) -> None:
        admin = _from_conf(tmp_path, "admin_project_name = cloud-admin\n"
                                     "admin_project_domain_name = infra\n")  # fmt: skip
        assert admin == AdminProject("cloud-admin", "infra", required=True)
        keystone = Keystone(
            {("cloud-admin", "d-infra"): "p-cloud-admin", ("admin", "default"): "x"}
        )
        assert house(conn("p-service", keystone), admin) == House("p-service", "p-cloud-admin")

    def test_the_domain_may_be_given_by_its_id(self) -> None:
        keystone = Keystone({("cloud-admin", "d-infra"): "p-cloud-admin"})
        admin = AdminProject("cloud-admin", "d-infra", required=True)
        assert house(conn("p-service", keystone), admin).admin == "p-cloud-admin"

    def test_a_named_project_keystone_does_not_have_fails_closed(self) -> None:
        """A typo must not quietly leave the real admin project unprotected."""
        keystone = Keystone({("cloud-admin", "default"): "p-cloud-admin"})
        admin = AdminProject("cloud-admn", "Default", required=True)
        with pytest.raises(AdminProjectMissing, match=r"admin_project_name") as raised:
            house(conn("p-service", keystone), admin)
        assert isinstance(raised.value, VerificationError)

    def test_a_named_domain_keystone_does_not_have_fails_closed(self) -> None:
        keystone = Keystone({("cloud-admin", "default"): "p-cloud-admin"})
        admin = AdminProject("cloud-admin", "infr", required=True)
        with pytest.raises(AdminProjectMissing, match="'cloud-admin' in domain 'infr'"):
            house(conn("p-service", keystone), admin)


class TestReadOnceFromTheConfiguration:
    def test_the_defaults_are_keystone_s_bootstrap_names_and_not_required(self, tmp_path) -> None:
        assert _from_conf(tmp_path, "") == AdminProject("admin", "Default", required=False)

    def test_the_domain_s_id_default_is_the_bootstrap_domain_too(self, tmp_path) -> None:
        admin = _from_conf(tmp_path, "admin_project_domain_name = default\n")
        assert admin == AdminProject("admin", "default", required=False)

    def test_the_settings_carry_it(self, tmp_path) -> None:
        path = tmp_path / "reaper.conf"
        path.write_text("[DEFAULT]\nadmin_project_name = cloud-admin\n")
        settings = Settings.from_conf(config.make_conf(["--config-file", str(path)]))
        assert settings.admin_project == AdminProject("cloud-admin", "Default", required=True)


def _from_conf(tmp_path, body: str) -> AdminProject:
    path = tmp_path / "reaper.conf"
    path.write_text("[DEFAULT]\n" + body)
    return AdminProject.from_conf(config.make_conf(["--config-file", str(path)]))


class Token:
    """What keystoneauth says of the session's token: its scope's and user's domains."""

    def __init__(
        self,
        issued: dt.datetime,
        project_domain: tuple[str, str] = ("default", "Default"),
        user_domain: tuple[str, str] = ("default", "Default"),
    ) -> None:
        self.issued = issued
        self.project_domain_id, self.project_domain_name = project_domain
        self.user_domain_id, self.user_domain_name = user_domain


def scoped_conn(own: str, keystone: Keystone, token: Token) -> Any:
    """A connection whose session's plugin holds ``token`` (keystoneauth's ``get_access``)."""
    session = SimpleNamespace()
    session.auth = SimpleNamespace(get_access=lambda s: token if s is session else None)
    return SimpleNamespace(current_project_id=own, identity=keystone, session=session)


class TestTheDomainTheTokenNames:
    """The token Keystone just issued names its project's and user's domains, ids and names."""

    def test_a_fresh_token_s_domain_is_not_asked_again(self) -> None:
        keystone = Keystone({("admin", "default"): "p-admin"})
        token = Token(issued=utcnow() - dt.timedelta(seconds=2))
        found = house(scoped_conn("p-service", keystone, token), BOOTSTRAP)
        assert found == House("p-service", "p-admin")
        assert keystone.asked == ["projects?name=admin&domain_id=default"]

    def test_the_user_s_domain_counts_too(self) -> None:
        keystone = Keystone({("cloud-admin", "d-infra"): "p-cloud-admin"})
        token = Token(utcnow(), ("default", "Default"), ("d-infra", "infra"))
        admin = AdminProject("cloud-admin", "infra", required=True)
        assert house(scoped_conn("p-service", keystone, token), admin).admin == "p-cloud-admin"
        assert keystone.asked == ["projects?name=cloud-admin&domain_id=d-infra"]

    def test_the_domain_s_id_as_keystone_says_it_not_the_bootstrap_s(self) -> None:
        keystone = Keystone({("admin", "default"): "p-wrong", ("admin", "d-moved"): "p-admin"})
        token = Token(utcnow(), ("d-moved", "Default"), ("d-moved", "Default"))
        assert house(scoped_conn("p-service", keystone, token), BOOTSTRAP).admin == "p-admin"
        assert keystone.asked == ["projects?name=admin&domain_id=d-moved"]

    def test_an_old_token_s_word_is_not_taken(self) -> None:
        """A domain renamed since the token was issued: Keystone is asked, as without a token."""
        keystone = Keystone({("admin", "default"): "p-wrong", ("admin", "d-moved"): "p-admin"})
        keystone.domains_by_name["Default"] = "d-moved"
        token = Token(utcnow() - TOKEN_WORD_AGE - dt.timedelta(seconds=1))
        assert house(scoped_conn("p-service", keystone, token), BOOTSTRAP).admin == "p-admin"
        assert "domains?name=Default" in keystone.asked

    def test_another_domain_is_asked(self) -> None:
        keystone = Keystone({("cloud-admin", "d-infra"): "p-cloud-admin"})
        admin = AdminProject("cloud-admin", "infra", required=True)
        token = Token(utcnow())
        assert house(scoped_conn("p-service", keystone, token), admin).admin == "p-cloud-admin"
        assert keystone.asked[0] == "domains?name=infra"

    def test_a_domain_given_by_its_id_is_asked(self) -> None:
        """Keystone finds a domain by its name before its id: only a name is matched."""
        keystone = Keystone({("admin", "default"): "p-admin"})
        admin = AdminProject("admin", "default")
        token = Token(utcnow())
        assert house(scoped_conn("p-service", keystone, token), admin).admin == "p-admin"
        assert "domains?name=default" in keystone.asked

    def test_a_token_keystoneauth_cannot_say_is_no_word(self) -> None:
        keystone = Keystone({("admin", "default"): "p-admin"})
        session = SimpleNamespace(auth=None)
        connection = SimpleNamespace(current_project_id="p-s", identity=keystone, session=session)
        assert house(connection, BOOTSTRAP).admin == "p-admin"
        assert len(keystone.asked) == 2
