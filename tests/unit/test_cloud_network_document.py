"""Neutron's version document is read only where it can say something: a real local HTTP server.

The server plays Keystone (version document, token with a catalog) and
Neutron (its root lists ``v2.0``; ``/v2.0/`` is its resource list, no
version document). openstacksdk builds Neutron's proxy from the catalog
without a read, but from a clouds.yaml ``network_endpoint_override`` it asks
the override's document first; at ``.../v2.0`` that is the resource list,
which says nothing (keystoneauth gives up on it and the override is used as
given). ``reaper.cloud.connect`` must skip that read, and keep the one at an
unversioned override, where the root's document finds ``/v2.0/``. Strict
proxies and a disabled network service are left to openstacksdk as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions as sdk_exc

from reaper import cloud, config, versiondocs
from reaper.credentials import CredentialSource, Origin
from tests.unit import localkeystone

NEUTRON = "/networking"


class Neutron(localkeystone.Keystone):
    #: (method, path) of every request, in order (a class list: one server per test).
    seen: list[tuple[str, str]]
    #: Where the catalog says Neutron is, under the server's address (``None``: it does not).
    catalog_path: str | None
    identity_path = "/identity/v3"

    def catalog(self) -> list[dict[str, Any]]:
        if self.catalog_path is None:
            return super().catalog()
        network = {"type": "network", "name": "neutron"}
        return [*super().catalog(), {**network, "endpoints": [self.endpoint(self.catalog_path)]}]

    def do_POST(self) -> None:
        self.seen.append(("POST", self.path))
        super().do_POST()

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path))
        path = self.path.split("?")[0].rstrip("/")
        if self.version_document(path):
            return None
        if path == NEUTRON:
            link = {"rel": "self", "href": self.root() + NEUTRON + "/v2.0/"}
            return self.send(
                200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]}
            )
        if path == NEUTRON + "/v2.0":
            return self.send(200, {"resources": [{"name": "network", "collection": "networks"}]})
        if path == NEUTRON + "/v2.0/networks":
            return self.send(200, {"networks": [{"id": "n1", "name": "net"}]})
        return self.send(404, {"NeutronError": {"message": "not found"}})


@pytest.fixture
def neutron() -> Iterator[type[Neutron]]:
    handler = type("Handler", (Neutron,), {"seen": [], "catalog_path": NEUTRON})
    with localkeystone.serve(handler) as address:
        handler.address = address
        yield handler


def neutron_requests(handler: type[Neutron]) -> list[str]:
    return [path for method, path in handler.seen if path.startswith(NEUTRON)]


def region_connection(handler: type[Neutron], **settings: Any) -> Any:
    """``reaper.cloud.connect_region`` on a region resolved with ``settings``, as
    python-openstackclient resolves one for ``openstack reaper ...``."""
    import openstack.config

    region = openstack.config.OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(
        auth_type="password",
        auth=localkeystone.admin_auth(handler.address + handler.identity_path),
        region_name="RegionOne",
        **settings,
    )
    return cloud.connect_region(region, read_only=True)


@pytest.mark.parametrize("override", [NEUTRON + "/v2.0", NEUTRON + "/v2.0/"])
def test_a_versioned_endpoint_override_lists_without_reading_the_resource_list_first(
    tmp_path: Path, neutron: type[Neutron], override: str
) -> None:
    conn = localkeystone.connect(tmp_path, neutron, network_endpoint_override=override)
    assert [n.id for n in conn.network.networks()] == ["n1"]
    assert neutron_requests(neutron) == [NEUTRON + "/v2.0/networks"]
    assert cloud.counter_of(conn).total == 1


def test_an_unversioned_endpoint_override_still_finds_the_version_in_the_root_document(
    tmp_path: Path, neutron: type[Neutron]
) -> None:
    conn = localkeystone.connect(tmp_path, neutron, network_endpoint_override=NEUTRON)
    assert [n.id for n in conn.network.networks()] == ["n1"]
    assert neutron_requests(neutron) == [NEUTRON, NEUTRON + "/v2.0/networks"]


@pytest.mark.parametrize("catalog_path", [NEUTRON, NEUTRON + "/v2.0"])
def test_from_the_catalog_neutron_is_listed_at_once_versioned_or_not(
    tmp_path: Path, neutron: type[Neutron], catalog_path: str
) -> None:
    neutron.catalog_path = catalog_path
    conn = localkeystone.connect(tmp_path, neutron)
    assert [n.id for n in conn.network.networks()] == ["n1"]
    assert neutron_requests(neutron) == [NEUTRON + "/v2.0/networks"]


def test_the_openstack_client_plugins_connection_skips_the_read_too(
    neutron: type[Neutron],
) -> None:
    """``openstack reaper ...`` clones the region python-openstackclient resolved."""
    override = neutron.address + NEUTRON + "/v2.0"
    conn = region_connection(neutron, network_endpoint_override=override)
    assert [n.id for n in conn.network.networks()] == ["n1"]
    assert neutron_requests(neutron) == [NEUTRON + "/v2.0/networks"]


def test_the_configuration_files_own_credentials_list_neutron_at_once(
    tmp_path: Path, neutron: type[Neutron]
) -> None:
    """``[service_credentials]`` naming a plugin: the connection is made on a session."""
    auth = localkeystone.admin_auth(neutron.address + neutron.identity_path)
    options = "".join(f"{name} = {value}\n" for name, value in auth.items())
    conf_file = tmp_path / "reaper.conf"
    conf_file.write_text("[service_credentials]\nauth_type = password\n" + options)
    conf = config.make_conf(["--config-file", str(conf_file)], config_files=[])
    source = CredentialSource(Origin.CONFIG_AUTH, auth_type="password")
    conn = cloud.connect(conf, read_only=True, source=source)
    assert [n.id for n in conn.network.networks()] == ["n1"]
    assert neutron_requests(neutron) == [NEUTRON + "/v2.0/networks"]


def test_a_versioned_override_lists_at_once_when_the_catalog_names_no_neutron(
    tmp_path: Path, neutron: type[Neutron]
) -> None:
    neutron.catalog_path = None
    override = NEUTRON + "/v2.0"
    conn = localkeystone.connect(tmp_path, neutron, network_endpoint_override=override)
    assert [n.id for n in conn.network.networks()] == ["n1"]
    assert neutron_requests(neutron) == [NEUTRON + "/v2.0/networks"]


def test_strict_proxies_keep_openstacksdks_reads(
    neutron: type[Neutron], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A strict proxy is validated by reading its document: openstacksdk builds it."""
    connection_class = versiondocs.connection_class
    strict = functools.partial(connection_class(), strict_proxies=True)
    monkeypatch.setattr(versiondocs, "connection_class", lambda: strict)
    conn = region_connection(neutron, network_endpoint_override=neutron.address + NEUTRON + "/v2.0")
    assert [n.id for n in conn.network.networks()] == ["n1"]
    document = NEUTRON + "/v2.0/"
    assert neutron_requests(neutron) == [document, document, NEUTRON + "/v2.0/networks"]


def test_a_disabled_network_service_stays_disabled_without_a_request(
    neutron: type[Neutron],
) -> None:
    override = neutron.address + NEUTRON + "/v2.0"
    conn = region_connection(neutron, has_network=False, network_endpoint_override=override)
    with pytest.raises(sdk_exc.ServiceDisabledException):
        conn.network.networks()
    assert neutron_requests(neutron) == []


def test_only_an_endpoint_naming_v2_0_is_built_without_a_read() -> None:
    assert versiondocs.unread_endpoint("network", "http://n/net/v2.0/") == "http://n/net/v2.0"
    assert versiondocs.unread_endpoint("network", "http://n/net") is None
    assert versiondocs.unread_endpoint("network", "http://n/net/v3") is None
