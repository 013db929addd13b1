"""The cleanup benchmark's ``--extras``: a tenant's Swift and Octavia share, named and counted."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.cleanup_bench import SIZES, resource_count
from benchmarks.extras_tenant import Extras, container_names, object_names
from tests.testbed.tenant import Tenant


def test_extras_parse_containers_by_objects_with_one_load_balancer() -> None:
    assert Extras.parse("3x200") == Extras(containers=3, objects=200, load_balancers=1)
    assert Extras.parse(" 1x0 ") == Extras(1, 0)


@pytest.mark.parametrize("token", ["", "3", "3x", "x200", "0x10", "3*200", "-1x5", "3x200x1"])
def test_extras_refuse_anything_but_containers_x_objects_with_a_container(token: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="CONTAINERSxOBJECTS"):
        Extras.parse(token)


def test_extras_count_one_per_container_object_and_load_balancer() -> None:
    extras = Extras(3, 200)
    assert extras.resources == 3 + 600 + 1
    assert len(container_names(extras)) == 3
    assert len(set(object_names(extras))) == 200


def test_a_size_with_extras_is_named_apart_so_its_cells_and_results_are_its_own() -> None:
    small = SIZES["small"]
    extra = small.with_extras(Extras(3, 200))
    assert extra.name == "small+3x200+lb"
    assert extra.extras == Extras(3, 200)
    assert (extra.servers, extra.volumes) == (small.servers, small.volumes)
    assert small.with_extras(None) is small


def test_the_resource_count_adds_the_extras() -> None:
    tenant = Tenant("p", "t", "default", "u", "t-user", "pw", "http://x", "RegionOne")
    assert resource_count(tenant, Extras(2, 10)) == resource_count(tenant) + 2 + 20 + 1
