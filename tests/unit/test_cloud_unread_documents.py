"""Glance's and Placement's version documents are not read: a real local HTTP server.

The server plays Keystone (version document, token with a catalog), Glance
(its root document lists ``v2``) and Placement (its root document is its
only one). openstacksdk reads each root document before the first request
to the service, from the catalog or an endpoint override alike: one GET per
service per connection, for an answer reaper does not use (Glance's API is
``/v2`` under its root; every Placement request reaper sends names its
microversion). ``reaper.cloud.connect`` builds both proxies without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reaper import cloud, versiondocs
from tests.unit import localkeystone

GLANCE = "/image"
PLACEMENT = "/placement"


class Cloud(localkeystone.Keystone):
    #: (method, path, microversion header) of every request, in order.
    seen: list[tuple[str, str, str | None]]
    #: Where the catalog says Glance is, under the server's address.
    glance_path: str
    identity_path = "/identity/v3"

    def catalog(self) -> list[dict[str, Any]]:
        glance = {"type": "image", "name": "glance"}
        placement = {"type": "placement", "name": "placement"}
        return [
            *super().catalog(),
            {**glance, "endpoints": [self.endpoint(self.glance_path)]},
            {**placement, "endpoints": [self.endpoint(PLACEMENT)]},
        ]

    def do_POST(self) -> None:
        self.seen.append(("POST", self.path, None))
        super().do_POST()

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, self.headers.get("OpenStack-API-Version")))
        path = self.path.split("?")[0].rstrip("/")
        if self.version_document(path):
            return None
        if path == GLANCE:
            link = {"rel": "self", "href": self.root() + GLANCE + "/v2/"}
            versions = [{"id": "v2.17", "status": "CURRENT", "links": [link]}]
            return self.send(300, {"versions": versions})
        if path == GLANCE + "/v2/images":
            return self.send(200, {"images": [{"id": "i1", "name": "img"}]})
        if path == PLACEMENT:
            link = {"rel": "self", "href": ""}
            version = {"id": "v1.0", "status": "CURRENT", "min_version": "1.0"}
            version |= {"max_version": "1.39", "links": [link]}
            return self.send(200, {"versions": [version]})
        if path == PLACEMENT + "/usages":
            return self.send(200, {"usages": {"VCPU": 2}})
        return self.send(404, {"error": "not found"})


@pytest.fixture
def served() -> Iterator[type[Cloud]]:
    handler = type("Handler", (Cloud,), {"seen": [], "glance_path": GLANCE})
    with localkeystone.serve(handler) as address:
        handler.address = address
        yield handler


def under(handler: type[Cloud], prefix: str) -> list[str]:
    return [path for _, path, _ in handler.seen if path.startswith(prefix)]


@pytest.mark.parametrize("glance_path", [GLANCE, GLANCE + "/", GLANCE + "/v2"])
def test_from_the_catalog_glance_is_listed_at_v2_without_reading_its_root(
    tmp_path: Path, served: type[Cloud], glance_path: str
) -> None:
    served.glance_path = glance_path
    conn = localkeystone.connect(tmp_path, served)
    assert [i.id for i in conn.image.images()] == ["i1"]
    assert under(served, GLANCE) == [GLANCE + "/v2/images"]


@pytest.mark.parametrize("override", [GLANCE, GLANCE + "/v2", GLANCE + "/v2/"])
def test_from_an_endpoint_override_glance_is_listed_at_v2_without_reading_its_root(
    tmp_path: Path, served: type[Cloud], override: str
) -> None:
    conn = localkeystone.connect(tmp_path, served, image_endpoint_override=override)
    assert [i.id for i in conn.image.images()] == ["i1"]
    assert under(served, GLANCE) == [GLANCE + "/v2/images"]
    assert cloud.counter_of(conn).total == 1


@pytest.mark.parametrize("override", [None, PLACEMENT])
def test_placement_is_asked_with_its_microversion_without_reading_its_root(
    tmp_path: Path, served: type[Cloud], override: str | None
) -> None:
    extra = {"placement_endpoint_override": override} if override else {}
    conn = localkeystone.connect(tmp_path, served, **extra)
    usages = conn.placement.get("/usages?project_id=p", microversion="1.9").json()
    assert usages == {"usages": {"VCPU": 2}}
    assert [(p.split("?")[0], v) for _, p, v in served.seen if p.startswith(PLACEMENT)] == [
        (PLACEMENT + "/usages", "placement 1.9")
    ]


def test_an_image_endpoint_of_another_version_is_left_to_openstacksdk() -> None:
    assert versiondocs.unread_endpoint("image", "http://glance/v1") is None
    assert versiondocs.unread_endpoint("image", "http://glance/v2.1/") == "http://glance/v2.1"
    assert versiondocs.unread_endpoint("image", "http://cloud/image/") == "http://cloud/image/v2"
    assert versiondocs.unread_endpoint("placement", "http://cloud/placement/") == (
        "http://cloud/placement"
    )


def test_the_openstack_client_plugins_connection_skips_the_reads_too(
    served: type[Cloud],
) -> None:
    """``openstack reaper ...`` clones the region python-openstackclient resolved."""
    import openstack.config

    region = openstack.config.OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(
        auth_type="password",
        auth=localkeystone.admin_auth(served.address + served.identity_path),
        region_name="RegionOne",
    )
    conn = cloud.connect_region(region, read_only=True)
    assert [i.id for i in conn.image.images()] == ["i1"]
    assert under(served, GLANCE) == [GLANCE + "/v2/images"]
