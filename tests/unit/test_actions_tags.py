"""Tagging through openstacksdk must not leak a tag into every other object of the process.

openstacksdk's ``TagMixin.add_tag`` appends to the object's ``tags`` list; an
object built from a bare id has none of its own and appends to the list all
instances share by default. The session here answers every request 204, so
the SDK's own code runs, without a cloud.
"""

from __future__ import annotations

from typing import Any

import pytest
from keystoneauth1.adapter import Adapter
from openstack.compute.v2.server import Server
from openstack.image.v2.image import Image

from reaper.actions.server import tag_resource
from reaper.model import Resource


class Answer:
    status_code = 204
    headers: dict[str, str] = {}  # noqa: RUF012 - a stand-in, never mutated

    def json(self) -> dict[str, Any]:
        return {}


class Proxy(Adapter):
    """A stand-in for ``conn.compute``/``conn.image``: runs the SDK's add_tag, sends nothing."""

    def __init__(self) -> None:
        super().__init__(session=None)  # type: ignore[arg-type] # never sends
        self.puts: list[str] = []

    def get_endpoint_data(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None  # no cloud: the SDK falls back to its default microversion

    def put(self, url: str, **kwargs: Any) -> Answer:  # type: ignore[override]
        self.puts.append(url)
        return Answer()

    def add_tag_to_server(self, server: Any, tag: str) -> None:
        server = server if isinstance(server, Server) else Server.new(id=server)
        server.add_tag(self, tag)

    def add_tag(self, image: Any, tag: str) -> None:
        image = image if isinstance(image, Image) else Image.new(id=image)
        image.add_tag(self, tag)


class Conn:
    def __init__(self) -> None:
        self.compute = Proxy()
        self.image = Proxy()


@pytest.mark.parametrize("rtype", ["compute.server", "image.image"])
def test_tagging_one_resource_leaves_every_other_objects_tags_alone(rtype: str) -> None:
    conn = Conn()

    tag_resource(conn, Resource(type=rtype, id="tagged"), ["reaper:keep"])

    proxy = conn.compute if rtype == "compute.server" else conn.image
    assert [url.rsplit("/", 1)[-1] for url in proxy.puts] == ["reaper:keep"]
    assert Server.new(id="untagged").tags == []
    assert Image.new(id="untagged").tags == []
