"""The projects reaper protects whatever the configuration says: its own and the admin project.

The admin project is named by ``[DEFAULT] admin_project_name`` and
``admin_project_domain_name`` (Keystone's bootstrap names it ``admin`` in
the domain ``Default``, whose id is ``default``; kolla and OSA keep those,
other deployments call it ``cloud-admin`` or put it in another domain).
Both are asked of Keystone before every decision (:func:`house_projects`),
never taken from the configuration as ids, and failing to learn them fails
closed: :class:`~reaper.cleanup.verify.VerificationError`, nothing planned.
The domain's id is Keystone's word in the token it issued reaper moments
ago, when that token's project or user is in the domain
(:func:`_token_domain_id`): one request fewer before every plan of the CLI.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from reaper.cleanup.verify import VerificationError
from reaper.model import utcnow

#: Keystone's bootstrap names: ``keystone-manage bootstrap`` makes project ``admin`` in
#: the domain named ``Default`` (id ``default``).
DEFAULT_NAME = "admin"
DEFAULT_DOMAIN = "Default"


@dataclasses.dataclass(frozen=True)
class AdminProject:
    """How the cloud names its admin project: a name in a domain (its name or id).

    ``required`` is true when the operator named it (either option differs
    from Keystone's bootstrap names): a project the operator named and that
    Keystone does not have is a mistake in reaper.conf that must not quietly
    leave the real admin project unprotected, so it fails closed. Keystone's
    bootstrap names may be absent (a cloud without an ``admin`` project has
    none to protect).
    """

    name: str = DEFAULT_NAME
    domain: str = DEFAULT_DOMAIN
    required: bool = False

    @classmethod
    def from_conf(cls, conf: Any) -> AdminProject:
        name = (conf.admin_project_name or "").strip() or DEFAULT_NAME
        domain = (conf.admin_project_domain_name or "").strip() or DEFAULT_DOMAIN
        required = (name, domain.lower()) != (DEFAULT_NAME, DEFAULT_DOMAIN.lower())
        return cls(name=name, domain=domain, required=required)

    def __str__(self) -> str:
        return f"{self.name!r} in domain {self.domain!r}"


@dataclasses.dataclass(frozen=True)
class House:
    """Reaper's own project's id and the admin project's (``None``: the cloud has none)."""

    own: str
    admin: str | None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset({self.own, *([self.admin] if self.admin else [])})


class AdminProjectMissing(VerificationError):
    """Keystone has no project by the name the operator configured (fails closed)."""


#: Reaper's own project and the admin project's id: :func:`house_projects`, or a test's.
HouseCheck = Callable[[AdminProject], frozenset[str]]


def house(conn: Any, admin: AdminProject) -> House:
    """Reaper's own project and ``admin``'s id, as Keystone says them now.

    Raises :class:`VerificationError` (retry later, never act) when Keystone
    cannot say, when reaper's credentials are not scoped to a project, and
    when a project the operator named (``admin.required``) is not found.
    """
    try:
        own = conn.current_project_id
        project = _admin_project(conn, admin)
    except Exception as exc:
        raise VerificationError(
            f"could not learn reaper's own and the admin project ({admin}) from Keystone: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not own:
        raise VerificationError(
            "reaper's credentials are not scoped to a project: its own project, always "
            "protected, is unknown"
        )
    if project is None and admin.required:
        raise AdminProjectMissing(
            f"Keystone has no admin project {admin}: check [DEFAULT] admin_project_name "
            "and admin_project_domain_name (nothing is done until it is found)"
        )
    return House(own=str(own), admin=None if project is None else str(project.id))


def _admin_project(conn: Any, admin: AdminProject) -> Any:
    """The admin project (``None``: Keystone has none by that name in that domain).

    The project is listed by the domain's id, which Keystone gives first:
    two round trips in a row before every plan. When the domain's id can be
    guessed (:func:`_guessed_domain_id`), the project is listed with the
    guess beside the domain's listing, and that answer is used only if
    Keystone gives the guessed id; otherwise it is dropped and the project
    asked again with the id Keystone gave. Either way both answers are
    Keystone's of now. A domain the session's fresh token names is not
    asked at all (:func:`_token_domain_id`).
    """
    told = _token_domain_id(conn, admin.domain)
    if told is not None:
        return _project(conn, admin.name, told)
    guess = _guessed_domain_id(admin.domain)
    if guess is None:
        domain = _domain_id(conn, admin.domain)
        return None if domain is None else _project(conn, admin.name, domain)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reaper-house") as pool:
        early = pool.submit(_project, conn, admin.name, guess)
        domain = _domain_id(conn, admin.domain)
        if domain is None:
            return None
        if domain == guess:
            return early.result()
    return _project(conn, admin.name, domain)


#: The id ``keystone-manage bootstrap`` gives the domain it names ``Default``.
DEFAULT_DOMAIN_ID = "default"


def _guessed_domain_id(domain: str) -> str | None:
    """The likely id of the domain named (or whose id is) ``domain``, if there is one.

    Keystone's bootstrap domain (``Default``, id ``default``), and a domain
    given by its id (32 hex digits, as Keystone makes them). A guess decides
    nothing: :func:`_admin_project` checks it against Keystone's answer.
    """
    if domain.lower() == DEFAULT_DOMAIN.lower():
        return DEFAULT_DOMAIN_ID
    if len(domain) == 32 and all(c in "0123456789abcdef" for c in domain):
        return domain
    return None


#: How long after Keystone issued the session's token its word on domains stands for now's:
#: a domain renamed since is asked again once the token is older (a controller reuses
#: its token for up to an hour; ``reaper apply`` asks for one as it starts).
TOKEN_WORD_AGE = dt.timedelta(seconds=60)


def _token_domain_id(conn: Any, domain: str) -> str | None:
    """The id of the domain named ``domain``, as the session's token says it; or ``None``.

    Keystone's token names the domains of its project and of its user, ids
    and names, as they were when it was issued: ``domains?name=`` would
    answer the same, a request later. Only a token issued within
    :data:`TOKEN_WORD_AGE` (by Keystone's clock, which keystoneauth already
    trusts for the token's expiry) is taken at its word, and only for a
    domain *named* ``domain``: Keystone finds a domain by its name before
    its id (:func:`_domain_id`), so an id is asked as ever. ``None`` when
    the token does not say (no such domain in it, too old, another plugin).
    """
    try:
        session = conn.session
        access = session.auth.get_access(session)
        issued = access.issued
        named = [
            (access.project_domain_name, access.project_domain_id),
            (access.user_domain_name, access.user_domain_id),
        ]
    except Exception:  # not keystoneauth's v3 token: the domain is asked
        return None
    if not isinstance(issued, dt.datetime) or issued.tzinfo is None:
        return None
    if not dt.timedelta(0) - TOKEN_WORD_AGE <= utcnow() - issued <= TOKEN_WORD_AGE:
        return None
    for name, domain_id in named:
        if name and domain_id and name == domain:
            return str(domain_id)
    return None


def house_projects(conn: Any, admin: AdminProject) -> frozenset[str]:
    """The ids of :func:`house`: what every decision protects whatever the configuration says."""
    return house(conn, admin).ids


def _project(conn: Any, name: str, domain_id: str) -> Any:
    """The project named ``name`` in ``domain_id``, or ``None``: one listing by name.

    Not openstacksdk's ``find_project``, which first asks for a project whose
    *id* is the name (a 404 for every plan) and only then lists by name: one
    round trip to Keystone more on the way to every deletion's first step.
    A project's name is unique within its domain, so the listing holds one.
    """
    for found in conn.identity.projects(name=name, domain_id=domain_id):
        return found
    return None


def _domain_id(conn: Any, domain: str) -> str | None:
    """The id of the domain named ``domain`` (or whose id it is); ``None`` if there is none."""
    for found in conn.identity.domains(name=domain):
        return str(found.id)
    found = conn.identity.find_domain(domain, ignore_missing=True)
    return None if found is None else str(found.id)
