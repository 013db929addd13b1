"""The guarded session: what it refuses, counts and retries, below openstacksdk.

keystoneauth's ``Session.request`` (the network) is replaced by a script of
answers, so each test states what the session does with what the cloud says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from reaper import cloud, config
from reaper.credentials import CredentialError, Reason, resolve


class Answer:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}


class Cloud:
    """A scripted cloud: the answers keystoneauth gives, and the requests it got."""

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.sent: list[tuple[str, str]] = []

    def answers(self, *items: Any) -> None:
        self.script.extend(items)

    def request(self, url: str, method: str) -> Any:
        self.sent.append((method, url))
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def scripted_cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    scripted = Cloud()
    monkeypatch.setattr(
        ks_session.Session,
        "request",
        lambda self, url, method, **kwargs: scripted.request(url, method),
    )
    monkeypatch.setattr(cloud.GuardedSession, "sleep", staticmethod(lambda _: None))
    yield scripted


def test_the_counter_names_the_endpoint_a_relative_request_went_to(scripted_cloud: Cloud) -> None:
    session = cloud.GuardedSession()
    scripted_cloud.answers(Answer(200))

    session.request("/servers/detail", "GET", endpoint_override="http://10.0.0.5:8774/v2.1")

    assert session.counter.by_endpoint() == {("GET", "10.0.0.5:8774"): 1}


def test_a_read_that_meets_a_5xx_or_a_reset_is_asked_again_and_each_try_counted(
    scripted_cloud: Cloud,
) -> None:
    session = cloud.GuardedSession()
    scripted_cloud.answers(Answer(503), ks_exc.ConnectFailure("reset"), Answer(200))

    response = session.request("http://nova/servers", "GET")

    assert response.status_code == 200
    assert len(scripted_cloud.sent) == 3
    assert session.counter.by_method() == {"GET": 3}


def test_a_read_gives_up_after_its_attempts_with_the_last_answer(scripted_cloud: Cloud) -> None:
    session = cloud.GuardedSession()
    scripted_cloud.answers(*[Answer(500) for _ in range(session.read_attempts)])

    response = session.request("http://nova/servers", "GET")

    assert response.status_code == 500
    assert len(scripted_cloud.sent) == session.read_attempts


def test_a_read_answered_404_or_403_is_not_asked_again(scripted_cloud: Cloud) -> None:
    session = cloud.GuardedSession()
    scripted_cloud.answers(ks_exc.NotFound(), Answer(403))

    with pytest.raises(ks_exc.NotFound):
        session.request("http://keystone/v3/projects/p", "GET")
    assert session.request("http://nova/servers", "GET").status_code == 403
    assert len(scripted_cloud.sent) == 2


def test_a_mutation_is_never_retried_by_the_session(scripted_cloud: Cloud) -> None:
    """The executor retries mutations, and audits every attempt."""
    session = cloud.GuardedSession()
    scripted_cloud.answers(Answer(503), ks_exc.ConnectFailure("reset"))

    assert session.request("http://nova/servers/s", "DELETE").status_code == 503
    with pytest.raises(ks_exc.ConnectFailure):
        session.request("http://nova/servers/s", "DELETE")
    assert len(scripted_cloud.sent) == 2


def test_a_token_request_is_retried_but_not_counted(scripted_cloud: Cloud) -> None:
    session = cloud.ReadOnlySession()
    scripted_cloud.answers(Answer(503), Answer(201))

    response = session.request("http://keystone/v3/auth/tokens", "POST", authenticated=False)

    assert response.status_code == 201
    assert len(scripted_cloud.sent) == 2
    assert session.counter.total == 0


def test_a_read_only_session_refuses_a_mutation_before_it_is_sent(scripted_cloud: Cloud) -> None:
    session = cloud.ReadOnlySession()

    with pytest.raises(cloud.MutationRefused):
        session.request("http://nova/servers/s", "DELETE")
    assert scripted_cloud.sent == []
    assert session.counter.total == 0


class _Auth:
    """Just what the session reads of a keystoneauth plugin here."""

    auth_url = "http://keystone:5000/v3"


@pytest.mark.parametrize(
    ("url", "method"),
    [("http://keystone:5000/v3", "GET"), ("http://keystone:5000/v3/auth/tokens", "POST")],
)
def test_an_auth_url_nothing_answers_on_is_given_up_after_a_second_try(
    scripted_cloud: Cloud, url: str, method: str
) -> None:
    session = cloud.GuardedSession(auth=_Auth())  # type: ignore[arg-type]
    scripted_cloud.answers(*[ks_exc.ConnectFailure("refused")] * session.read_attempts)

    with pytest.raises(ks_exc.ConnectFailure):
        session.request(url, method, authenticated=False)

    assert len(scripted_cloud.sent) == session.auth_connect_attempts == 2


def test_keystone_answering_5xx_to_a_token_request_is_asked_as_often_as_any_read(
    scripted_cloud: Cloud,
) -> None:
    session = cloud.GuardedSession(auth=_Auth())  # type: ignore[arg-type]
    scripted_cloud.answers(Answer(503), Answer(503), Answer(503), Answer(201))

    response = session.request("http://keystone:5000/v3/auth/tokens", "POST", authenticated=False)

    assert response.status_code == 201
    assert len(scripted_cloud.sent) == 4


def test_other_services_version_discovery_keeps_its_retries(scripted_cloud: Cloud) -> None:
    session = cloud.GuardedSession(auth=_Auth())  # type: ignore[arg-type]
    scripted_cloud.answers(
        ks_exc.ConnectFailure("reset"), ks_exc.ConnectFailure("reset"), Answer(200)
    )

    response = session.request("http://nova:8774/", "GET", authenticated=False)

    assert response.status_code == 200
    assert len(scripted_cloud.sent) == 3


def test_a_system_scoped_token_is_refused_before_anything_is_asked(
    tmp_path, scripted_cloud: Cloud
) -> None:
    path = tmp_path / "reaper.conf"
    path.write_text(
        "[service_credentials]\nauth_type = password\nauth_url = http://keystone:5000/v3\n"
        "username = reaper\npassword = secret\nuser_domain_id = default\nsystem_scope = all\n"
    )
    conf = config.make_conf(["--config-file", str(path)], config_files=[])

    with pytest.raises(CredentialError, match="system-scoped token") as raised:
        cloud.connect(conf, read_only=True, source=resolve(conf, environ={}))

    assert raised.value.reason is Reason.CONFIG
    assert scripted_cloud.sent == []


def test_a_version_document_is_asked_once_whatever_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cinder's catalog names ``/v3``; keystoneauth then reads the version's own ``/v3/``.

    Both are the one document: the second question was an unauthenticated GET
    (a 401) and an authenticated one more on every new connection.
    """
    from keystoneauth1 import discover

    asked: list[str] = []

    def version_data(session: Any, url: str, **kwargs: Any) -> list[dict[str, Any]]:
        asked.append(url)
        return [{"id": "v3.0", "status": "CURRENT", "links": [{"rel": "self", "href": url}]}]

    monkeypatch.setattr(discover, "get_version_data", version_data)
    session = cloud.GuardedSession(discovery_cache={})
    for url in ("http://cinder:8776/v3", "http://cinder:8776/v3/", "http://nova:8774/v2.1/"):
        discover.get_discovery(session, url, authenticated=False)
    discover.get_discovery(session, "http://nova:8774/v2.1", authenticated=False)
    assert asked == ["http://cinder:8776/v3", "http://nova:8774/v2.1/"]


class _Token:
    def __init__(self, expiring: bool = False) -> None:
        self.expiring = expiring

    def will_expire_soon(self, seconds: int) -> bool:
        return self.expiring


class _Authenticated:
    """A keystoneauth plugin that holds a token."""

    def __init__(self, auth_url: str = "http://keystone:5000/v3", token: Any = None) -> None:
        self.auth_url = auth_url
        self.auth_ref = _Token() if token is None else token


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """What reached keystoneauth's network side: url and kwargs; a 401 without a token."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def request(self: Any, url: str, method: str, **kwargs: Any) -> Any:
        sent.append((url, kwargs))
        if kwargs.get("authenticated") is False and "cinder" in url:
            raise ks_exc.Unauthorized()
        return _Document(url)

    monkeypatch.setattr(ks_session.Session, "request", request)
    yield sent


class _Document(Answer):
    def __init__(self, url: str) -> None:
        super().__init__(200)
        self.url = url

    def json(self) -> dict[str, Any]:
        return {"version": {"id": "v3.0", "status": "CURRENT", "links": []}}


def test_a_service_version_document_is_asked_with_the_token_held_no_401_first(
    asked: list[tuple[str, dict[str, Any]]],
) -> None:
    """Cinder and Neutron refuse it without: keystoneauth would ask twice per connection."""
    from keystoneauth1 import discover

    session = cloud.GuardedSession(auth=_Authenticated())  # type: ignore[arg-type]

    discover.get_version_data(session, "http://cinder:8776/", authenticated=False)

    assert [(url, kw["authenticated"]) for url, kw in asked] == [("http://cinder:8776/", True)]
    assert asked[0][1]["allow_reauth"] is False
    assert session.counter.by_endpoint() == {("GET", "cinder:8776"): 1}


def test_a_versioned_document_is_asked_at_the_versions_own_address_not_redirected_there(
    asked: list[tuple[str, dict[str, Any]]],
) -> None:
    """Cinder answers ``/v3`` with a redirect to ``/v3/``: the slashed one is asked at once."""
    from keystoneauth1 import discover

    session = cloud.GuardedSession(auth=_Authenticated())  # type: ignore[arg-type]
    for url in ("http://cinder:8776/v3", "http://nova:8774/v2.1/", "http://glance:9292/"):
        discover.get_version_data(session, url, authenticated=False)
    discover.get_version_data(session, "http://keystone:5000/v3", authenticated=False)

    assert [url for url, _ in asked] == [
        "http://cinder:8776/v3/",
        "http://nova:8774/v2.1/",
        "http://glance:9292/",
        "http://keystone:5000/v3",  # Keystone's own: sent as asked, without a token
    ]


def test_a_service_refusing_the_token_up_front_is_asked_again_as_keystoneauth_always_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from keystoneauth1 import discover

    sent: list[dict[str, Any]] = []

    def request(self: Any, url: str, method: str, **kwargs: Any) -> Any:
        sent.append(kwargs)
        if len(sent) == 1:
            raise ks_exc.Unauthorized()
        return _Document(url)

    monkeypatch.setattr(ks_session.Session, "request", request)
    session = cloud.GuardedSession(auth=_Authenticated())  # type: ignore[arg-type]

    discover.get_version_data(session, "http://neutron:9696/", authenticated=False)

    assert [kw["authenticated"] for kw in sent] == [True, True]
    assert [kw.get("allow_reauth", True) for kw in sent] == [False, True]


@pytest.mark.parametrize(
    ("auth", "url"),
    [
        (_Authenticated(), "http://keystone:5000/"),  # Keystone's own, root included
        (_Authenticated(), "http://keystone:5000/v3/"),
        (_Authenticated("http://cloud/identity/v3"), "http://cloud/identity/"),
        (_Authenticated(token=_Token(expiring=True)), "http://nova:8774/"),
        (_Auth(), "http://nova:8774/"),  # no token yet: authenticating
    ],
)
def test_keystone_documents_and_requests_without_a_live_token_are_sent_as_asked(
    asked: list[tuple[str, dict[str, Any]]], auth: Any, url: str
) -> None:
    session = cloud.GuardedSession(auth=auth)

    session.request(url, "GET", headers={"Accept": "application/json"}, authenticated=False)

    assert asked[0][1]["authenticated"] is False


def test_behind_one_address_only_keystone_path_keeps_its_documents_unauthenticated(
    asked: list[tuple[str, dict[str, Any]]],
) -> None:
    """DevStack puts every service behind one host: ``/identity`` is Keystone, ``/volume`` not."""
    session = cloud.GuardedSession(auth=_Authenticated("http://cloud/identity/v3"))  # type: ignore[arg-type]

    session.request(
        "http://cloud/volume/", "GET", headers={"Accept": "application/json"}, authenticated=False
    )

    assert asked[0][1]["authenticated"] is True


def test_an_unauthenticated_get_that_is_no_version_document_gets_no_token(
    asked: list[tuple[str, dict[str, Any]]],
) -> None:
    """An auth plugin's own GETs (an identity provider's) are not keystoneauth's discovery."""
    session = cloud.GuardedSession(auth=_Authenticated())  # type: ignore[arg-type]

    session.request(
        "https://idp.example/.well-known/openid-configuration", "GET", authenticated=False
    )

    assert asked[0][1]["authenticated"] is False
