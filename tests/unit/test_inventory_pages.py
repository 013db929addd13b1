"""The raw paging reader: every page to the last one, or an error, never a quiet early end."""

from __future__ import annotations

import pytest

from reaper.inventory.pages import Incomplete, Listing, next_link, pages
from tests.unit.pagesource import PageSource, Response

SERVERS = Listing("servers", "compute", "/servers/detail", "servers", {"all_tenants": 1})


def items(n: int) -> list[dict]:
    return [{"id": f"s{i:04d}", "tenant_id": f"p{i % 7}"} for i in range(n)]


def nova(n: int) -> PageSource:
    return PageSource("nova", {"/servers/detail": ("servers", items(n))})


def test_it_reads_limit_items_a_page_following_next_links_to_the_end() -> None:
    source = nova(2500)
    listing = Listing("servers", "compute", "/servers/detail", "servers", {"all_tenants": 1}, 1000)
    read = list(pages(source, listing))
    assert [len(p) for p in read] == [1000, 1000, 500]
    assert [i["id"] for p in read for i in p] == [i["id"] for i in items(2500)]
    # Every request asks for a page; the filter is carried on by the next links.
    assert all(q["limit"] == "1000" and q["all_tenants"] == "1" for _, q in source.requests)


def test_a_listing_of_exactly_whole_pages_ends_on_the_empty_page_after_them() -> None:
    source = nova(2000)
    read = list(pages(source, SERVERS))
    assert [len(p) for p in read] == [1000, 1000, 0]


def test_glances_next_path_is_made_relative_to_the_endpoint() -> None:
    images = [{"id": f"i{i}", "owner": "p"} for i in range(5)]
    source = PageSource("glance", {"/images": ("images", images)})
    listing = Listing("images", "image", "/images", "images", {"visibility": "all"}, 2)
    assert [len(p) for p in pages(source, listing)] == [2, 2, 1]
    assert source.requests[1][1] == {"visibility": "all", "limit": "2", "marker": "i1"}


def test_keystones_lists_come_whole_in_one_request() -> None:
    source = PageSource("keystone", {"/projects": ("projects", [{"id": "a"}, {"id": "b"}])})
    listing = Listing("projects", "identity", "/projects", "projects", page_size=None)
    assert list(pages(source, listing)) == [[{"id": "a"}, {"id": "b"}]]
    assert source.requests == [("/projects", {})]


def test_a_list_keystone_truncated_is_incomplete() -> None:
    source = PageSource("keystone", {"/projects": ("projects", [{"id": "a"}])})
    source.truncated = True
    listing = Listing("projects", "identity", "/projects", "projects", page_size=None)
    with pytest.raises(Incomplete, match="truncated"):
        list(pages(source, listing))


def test_a_keystone_that_pages_marks_full_pages_truncated_and_is_read_to_the_end() -> None:
    """keystone 30: every full page says ``truncated`` and links the next one."""
    projects = [{"id": f"p{i}"} for i in range(5)]
    source = PageSource("keystone", {"/projects": ("projects", projects)})
    source.max_db_limit = 2
    listing = Listing("projects", "identity", "/projects", "projects")
    assert [[i["id"] for i in page] for page in pages(source, listing)] == [
        ["p0", "p1"],
        ["p2", "p3"],
        ["p4"],
    ]


def test_an_older_keystone_ignores_limit_its_list_limit_still_makes_it_incomplete() -> None:
    source = PageSource("keystone", {"/projects": ("projects", [{"id": "a"}])})
    source.truncated = True
    with pytest.raises(Incomplete, match="truncated"):
        list(pages(source, Listing("projects", "identity", "/projects", "projects")))


@pytest.mark.parametrize(
    "answer",
    [Response(500, {}), Response(200, None, raw="<html>proxy error</html>"), Response(200, {})],
    ids=["server error", "not json", "no items key"],
)
def test_a_page_that_breaks_off_makes_the_listing_incomplete_after_the_pages_read(
    answer: Response,
) -> None:
    source = nova(2500)
    source.broken[("/servers/detail", 1)] = answer
    read = []
    with pytest.raises(Incomplete):
        for page in pages(source, SERVERS):
            read.append(page)
    assert [len(p) for p in read] == [1000]


def test_an_error_reaching_the_service_propagates_as_it_is() -> None:
    source = nova(10)
    source.broken[("/servers/detail", 0)] = ConnectionError("refused")
    with pytest.raises(ConnectionError):
        list(pages(source, SERVERS))


def test_a_next_link_that_goes_round_is_incomplete_not_an_endless_loop() -> None:
    class Stuck:
        def get(self, url: str, params: object = None) -> Response:
            href = "http://nova/servers/detail?marker=same"
            return Response(
                200, {"servers": [{"id": "x"}], "servers_links": [{"rel": "next", "href": href}]}
            )

    with pytest.raises(Incomplete, match="repeats"):
        list(pages(Stuck(), SERVERS))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"ports": [], "ports_links": [{"rel": "next", "href": "http://n/v2.0/ports?m=1"}]},
            "http://n/v2.0/ports?m=1",
        ),
        ({"ports": [], "ports_links": [{"rel": "previous", "href": "x"}]}, None),
        ({"images": [], "next": "/v2/images?marker=a"}, "/images?marker=a"),
        ({"projects": [], "links": {"next": None, "self": "x"}}, None),
        (
            {"projects": [], "links": {"next": "http://k/v3/projects?marker=b"}},
            "http://k/v3/projects?marker=b",
        ),
    ],
    ids=["neutron", "no next", "glance", "keystone last", "keystone next"],
)
def test_next_links_are_found_however_the_service_spells_them(body: dict, expected: str) -> None:
    key = next(iter(body))
    assert next_link(body, key) == expected
