"""A refused removal is a finding: who uses the resource decides, not a retry loop.

The refusals are the services' exact answers, recorded on the testbed
(``fixtures/in_use_refusals.json``), turned into openstacksdk's exceptions by
openstacksdk itself; the runner then asks who uses the resource now. Only
that question is answered by a stand-in here (its listings are
``tests/unit/test_inventory_liveuse.py``'s subject).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from openstack import exceptions as sdk_exc

from reaper.actions.base import Action
from reaper.actions.runner import SdkRunner
from reaper.executor import Conflict, Fatal, InUse
from reaper.inventory.liveuse import Users
from reaper.inventory.use import Use
from reaper.model import Resource, ResourceRef, Step

ANSWERS = json.loads((Path(__file__).parent / "fixtures" / "in_use_refusals.json").read_text())[
    "answers"
]
#: What each recorded refusal was an answer to.
REFUSED = {
    "neutron_network_in_use": "network.network",
    "neutron_subnet_in_use": "network.subnet",
    "neutron_security_group_in_use": "network.security_group",
    "neutron_rbac_network_in_use": "network.rbac_policy",
    "neutron_rbac_security_group_in_use": "network.rbac_policy",
    "neutron_rbac_subnetpool_in_use": "network.rbac_policy",
    "neutron_rbac_address_scope_in_use": "network.rbac_policy",
    "neutron_address_scope_in_use": "network.address_scope",
    "neutron_subnetpool_in_use": "network.subnet_pool",
    "cinder_volume_in_use": "block_storage.volume",
    "cinder_volume_has_snapshots": "block_storage.volume",
    "cinder_volume_awaiting_transfer": "block_storage.volume",
}
L = "l-live"
V = "v-deleted"


def refusal(name: str) -> sdk_exc.HttpException:
    """The recorded answer, through openstacksdk's own error handling."""
    answer = ANSWERS[name]
    response = requests.Response()
    response.status_code = answer["status"]
    response.headers["Content-Type"] = answer["content_type"]
    response._content = answer["body"].encode()
    response.request = requests.Request(answer["method"], f"http://cloud{answer['path']}").prepare()
    response.url = response.request.url or ""
    try:
        sdk_exc.raise_from_response(response)
    except sdk_exc.HttpException as exc:
        return exc
    raise AssertionError(f"{name}: openstacksdk did not raise")


class Refused(Action):
    """A removal the service answers with one recorded refusal."""

    name = "delete"
    removes = True

    def __init__(self, answer: str = "") -> None:
        self.answer = answer

    def run(self, client: Any, resource: Resource, params: Any, step: Any = None) -> Any:
        raise refusal(self.answer)


class Asked:
    """Who uses a resource, as the re-examination would find it; and who asked."""

    def __init__(self, users: Users) -> None:
        self.users = users
        self.asked: list[ResourceRef] = []

    def __call__(self, conn: Any, resource: Resource) -> Users:
        self.asked.append(resource.ref)
        return self.users


def attempt(answer: str, users: Users, *, action: str = "delete") -> tuple[Exception, Asked]:
    rtype = REFUSED[answer]
    resource = Resource(rtype, "r-1", project_id=V, attributes={"project_id": V})
    asked = Asked(users)
    cls = type("R", (Refused,), {"name": action, "removes": action == "delete"})
    runner = SdkRunner(object(), actions={action: cls}, users_of=asked)
    runner._actions[action].answer = answer  # type: ignore[attr-defined]
    step = Step(id=f"{action}:{rtype}:r-1", action=action, resource=resource.ref)
    with pytest.raises(Exception) as raised:
        runner.run(step, resource)
    return raised.value, asked


PORT = Use(L, "network.port", "p-1", "port p-1 on server s-1")


@pytest.mark.parametrize("answer", sorted(REFUSED))
def test_a_refusal_whose_user_is_a_live_project_keeps_the_step_with_that_user(
    answer: str,
) -> None:
    raised, asked = attempt(answer, Users(live=(PORT,)))
    assert isinstance(raised, InUse), raised
    assert not isinstance(raised, Conflict)  # not retried
    assert str(raised) == f"kept: in use by live project {L} (port p-1 on server s-1)"
    assert raised.used_by == (PORT.as_dict(),)
    assert asked.asked == [ResourceRef(REFUSED[answer], "r-1")]


@pytest.mark.parametrize("answer", sorted(REFUSED))
def test_a_refusal_nobody_alive_is_behind_stays_a_conflict_saying_who(answer: str) -> None:
    own = Use(V, "network.port", "p-own", "port p-own on server s-own")
    raised, _ = attempt(answer, Users(others=(own,)))
    assert type(raised) is Conflict
    body = json.loads(ANSWERS[answer]["body"])
    service_said = (body.get("NeutronError") or body.get("badRequest"))["message"]
    assert service_said.splitlines()[0] in str(raised)
    assert str(raised).endswith(
        f"no live project uses it, the owner's or deleted projects' do (network.port p-own of {V})"
    )


def test_users_that_could_not_be_listed_leave_the_conflict_to_its_budget() -> None:
    raised, _ = attempt("neutron_subnet_in_use", Users(error="RuntimeError: neutron down"))
    assert type(raised) is Conflict
    assert str(raised).endswith("who uses it is not known: RuntimeError: neutron down")
    raised, _ = attempt("neutron_subnet_in_use", Users())
    assert str(raised).endswith("no user of it found")


def test_neutrons_400_for_a_subnet_pool_with_allocations_is_a_conflict_not_fatal() -> None:
    raised, asked = attempt("neutron_subnetpool_in_use", Users())
    assert type(raised) is Conflict
    assert "Subnet pool has existing allocations" in str(raised)
    assert asked.asked


def test_only_a_removal_is_re_examined() -> None:
    raised, asked = attempt("neutron_network_in_use", Users(live=(PORT,)), action="tag")
    assert type(raised) is Conflict
    assert asked.asked == []


def test_another_400_stays_fatal_and_is_not_re_examined() -> None:
    answer = dict(ANSWERS["neutron_subnetpool_in_use"])
    answer["body"] = answer["body"].replace("SubnetPoolDeleteError", "BadRequest")
    ANSWERS["_other_400"] = answer
    REFUSED["_other_400"] = "network.subnet_pool"
    try:
        raised, asked = attempt("_other_400", Users(live=(PORT,)))
    finally:
        del ANSWERS["_other_400"], REFUSED["_other_400"]
    assert type(raised) is Fatal
    assert asked.asked == []


def test_glances_in_use_refusal_is_re_examined_too() -> None:
    """Not recorded: the testbed's file store never refuses. A store that knows use
    (RBD: a clone of the image) makes Glance answer 409 with a text body, as here."""
    ANSWERS["_glance"] = {
        "status": 409,
        "content_type": "text/plain; charset=UTF-8",
        "method": "DELETE",
        "path": "/v2/images/img-1",
        "body": "409 Conflict\n\nImage img-1 could not be deleted because it is in use: "
        "The image cannot be deleted because it is in use through the backend store "
        "outside of Glance.",
    }
    REFUSED["_glance"] = "image.image"
    server = Use(L, "compute.server", "s-1", "server s-1")
    try:
        raised, asked = attempt("_glance", Users(live=(server,)))
    finally:
        del ANSWERS["_glance"], REFUSED["_glance"]
    assert isinstance(raised, InUse)
    assert str(raised) == f"kept: in use by live project {L} (server s-1)"
    assert asked.asked == [ResourceRef("image.image", "r-1")]
