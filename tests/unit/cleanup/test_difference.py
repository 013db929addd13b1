"""The sweep by difference: who reaper saw alive and Keystone lists no more (pure)."""

from __future__ import annotations

from reaper.cleanup import difference
from reaper.model import IdentityKind, IdentityRef
from reaper.store.directory import Known


def project(pid: str) -> IdentityRef:
    return IdentityRef(IdentityKind.PROJECT, pid)


def user(uid: str) -> IdentityRef:
    return IdentityRef(IdentityKind.USER, uid)


def listed(*identities: IdentityRef) -> list[Known]:
    return [Known(i, "default") for i in identities]


def test_a_project_or_user_seen_alive_and_no_longer_listed_has_vanished() -> None:
    remembered = [project("p1"), project("p2"), user("u1"), user("u2")]
    assert difference.vanished(remembered, listed(project("p1"), user("u2"))) == [
        project("p2"),
        user("u1"),
    ]


def test_nothing_vanished_when_keystone_lists_everyone_reaper_saw() -> None:
    remembered = [project("p1"), user("u1")]
    assert difference.vanished(remembered, listed(project("p1"), user("u1"), project("new"))) == []


def test_a_project_and_a_user_with_the_same_id_are_told_apart() -> None:
    assert difference.vanished([project("x"), user("x")], listed(user("x"))) == [project("x")]


def test_domains_are_not_compared_their_projects_vanish_with_them() -> None:
    domain = IdentityRef(IdentityKind.DOMAIN, "d1")
    assert difference.vanished([domain], listed()) == []


def test_between_full_scans_the_vanished_alone_are_candidates() -> None:
    assert difference.candidates([project("p2")], {}) == {project("p2"): ()}


def test_a_full_scan_adds_owners_nobody_saw_and_what_the_vanished_own() -> None:
    found = {project("p2"): ("servers:s1",), project("never-seen"): ("volumes:v1",)}
    assert difference.candidates([project("p2"), user("u1")], found) == {
        project("never-seen"): ("volumes:v1",),
        project("p2"): ("servers:s1",),
        user("u1"): (),
    }
