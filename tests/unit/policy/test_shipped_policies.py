"""The shipped policies validate and do what their comments promise.

Resources are built from the real openstacksdk classes (``to_dict(computed=False)``,
as the inventory does), so every field a protect rule tests is present the
way it is in production.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from openstack.block_storage.v3.volume import Volume
from openstack.compute.v2.keypair import Keypair
from openstack.compute.v2.server import Server
from openstack.image.v2.image import Image
from openstack.image.v2.member import Member
from openstack.network.v2.floating_ip import FloatingIP
from openstack.network.v2.network import Network
from openstack.network.v2.port import Port
from openstack.network.v2.rbac_policy import RBACPolicy
from openstack.network.v2.security_group import SecurityGroup
from openstack.network.v2.subnet import Subnet

from reaper.inventory.base import IN_USE, SHARED, USABLE_TYPES, USED_BY, resource_from_sdk
from reaper.inventory.liveuse import Use
from reaper.inventory.registry import resource_types
from reaper.model import Decision, IdentityKind, IdentityRef, Resource, Verdict
from reaper.policy import PolicySet, default_policy_paths, evaluate, load_policies

from .conftest import PROJECT, USER, context

# The SDK warns about its own internals when its resources are built by hand.
pytestmark = pytest.mark.filterwarnings("ignore:The _compute_attributes method is deprecated")

POLICIES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "policies")
VISIBLE = "visibility in [public, community]"
LIVE = "in_use_by_live_project eq true"
L_PORT = Use("p-live", "network.port", "port-1", "port port-1 on server srv-1")
DOMAIN = IdentityRef(IdentityKind.DOMAIN, "d-deleted")
SDK = {
    "block_storage.volume": Volume,
    "compute.keypair": Keypair,
    "compute.server": Server,
    "image.image": Image,
    "image.member": Member,
    "network.network": Network,
    "network.port": Port,
    "network.rbac_policy": RBACPolicy,
    "network.subnet": Subnet,
    "network.security_group": SecurityGroup,
    "network.floating_ip": FloatingIP,
}


def found(
    rtype: str, relation: str = "owner", used_by: tuple[Use, ...] = (), **attrs: Any
) -> Resource:
    """A resource as discovered: the SDK's attributes, normalised, plus reaper_relation.

    Types another project can use also carry what the live-use stage adds
    (nobody alive uses it, unless ``used_by`` says who does).
    """
    attrs.setdefault("id", f"{rtype}-1")
    if rtype in SDK:
        attrs.setdefault("project_id", PROJECT.id)
        data = SDK[rtype](**attrs).to_dict(computed=False)
    else:  # quotas and the like: reaper's own shapes
        data = {"project_id": PROJECT.id, **attrs}
    data["reaper_relation"] = relation
    if rtype in USABLE_TYPES:
        data[IN_USE] = any(u.kind == "use" for u in used_by)
        data[SHARED] = any(u.kind == "grant" for u in used_by)
        data[USED_BY] = [u.as_dict() for u in used_by]
    return resource_from_sdk(resource_types()[rtype], data)


def decide(policies: PolicySet, item: Resource, **ctx: Any) -> Decision:
    [decision] = evaluate(policies, [item], context(**ctx)).decisions
    return decision


def actions(decision: Decision) -> list[str]:
    return [a.name + (f" after {a.after.days}d" if a.after else "") for a in decision.actions]


@pytest.fixture(scope="module")
def default() -> PolicySet:
    return load_policies([os.path.join(POLICIES, "default.yaml")])


@pytest.fixture(scope="module")
def forensic() -> PolicySet:
    return load_policies([os.path.join(POLICIES, "forensic.yaml")])


@pytest.mark.parametrize("name", ["default.yaml", "forensic.yaml"])
def test_shipped_files_validate_against_the_registered_types_and_actions(name: str) -> None:
    assert len(load_policies([os.path.join(POLICIES, name)])) >= 4


def test_the_default_is_found_in_a_checkout() -> None:
    [path] = default_policy_paths()
    assert path.endswith(os.path.join("policies", "default.yaml"))
    assert os.path.isfile(path)


class TestDefaultOnProjectDeletion:
    @pytest.mark.parametrize(
        ("rtype", "attrs", "rule"),
        [
            ("network.network", {"is_shared": True}, "is_shared eq true"),
            ("network.network", {"is_router_external": True}, "is_router_external eq true"),
            ("image.image", {"visibility": "public"}, VISIBLE),
            ("image.image", {"visibility": "community"}, VISIBLE),
            ("image.image", {"is_protected": True}, "is_protected eq true"),
            ("block_storage.volume", {"metadata": {"reaper:keep": "1"}}, "tagged reaper:keep"),
            ("compute.server", {"tags": ["reaper:keep"]}, "tagged reaper:keep"),
            ("network.port", {"tags": ["reaper:keep"]}, "tagged reaper:keep"),
            ("network.rbac_policy", {"target_project_id": "*"}, 'target_project_id eq "*"'),
        ],
    )
    def test_shared_public_external_and_kept_resources_are_protected(
        self, default: PolicySet, rtype: str, attrs: dict[str, Any], rule: str
    ) -> None:
        decision = decide(default, found(rtype, **attrs))
        assert (decision.verdict, decision.policy, decision.rule) == (
            Verdict.PROTECT,
            "never-touch-shared-or-kept",
            rule,
        )

    @pytest.mark.parametrize(
        ("rtype", "attrs"),
        [
            ("compute.server", {"status": "ACTIVE", "tags": ["web"]}),
            ("block_storage.volume", {"metadata": {"team": "x"}}),
            ("network.network", {}),
            ("image.image", {"visibility": "private"}),
            # Shared with members none of which (alive) accepted it: nobody uses it.
            ("image.image", {"visibility": "shared"}),
            # A grant to the deleted project is revoked; the network is someone else's.
            ("network.rbac_policy", {"target_project_id": PROJECT.id, "project_id": "other"}),
            # The project's membership of another project's image is revoked.
            ("image.member", {"member_id": PROJECT.id}),
            ("compute.quota", {}),
            ("network.quota", {}),
            ("block_storage.quota", {}),
            ("network.port", {"device_owner": "compute:nova"}),
            ("network.port", {}),
        ],
    )
    def test_what_the_project_owned_is_deleted(
        self, default: PolicySet, rtype: str, attrs: dict[str, Any]
    ) -> None:
        decision = decide(default, found(rtype, **attrs))
        assert (decision.verdict, actions(decision)) == (Verdict.ACT, ["delete"])

    @pytest.mark.parametrize("owner", ["network:router_interface", "network:dhcp"])
    def test_ports_neutron_manages_go_with_their_owner(self, default: PolicySet, owner) -> None:
        decision = decide(default, found("network.port", device_owner=owner))
        assert decision.verdict is Verdict.SKIP
        assert "delete-project-ports needs" in decision.reason

    def test_keypairs_are_not_a_projects(self, default: PolicySet) -> None:
        decision = decide(default, found("compute.keypair", user_id="u1"))
        assert decision.reason == "no policy for compute.keypair on identity.project.deleted"


class TestDefaultOnUserDeletion:
    def test_the_users_keypairs_are_deleted(self, default: PolicySet) -> None:
        keypair = found("compute.keypair", user_id=USER.id, name="laptop")
        decision = decide(default, keypair, trigger="identity.user.deleted", identity=USER)
        assert (decision.verdict, decision.policy, actions(decision)) == (
            Verdict.ACT,
            "delete-user-keypairs",
            ["delete"],
        )

    @pytest.mark.parametrize("rtype", ["compute.server", "block_storage.volume"])
    def test_what_the_user_created_in_live_projects_stays(self, default: PolicySet, rtype) -> None:
        item = found(rtype, relation="creator", project_id="p-live", user_id=USER.id)
        decision = decide(default, item, trigger="identity.user.deleted", identity=USER)
        assert decision.verdict is Verdict.SKIP
        assert decision.reason == (
            f"created by the deleted user {USER.id} in live project p-live: no policy opted in "
            f"(no policy for {rtype} on identity.user.deleted)"
        )


class TestDefaultKeepsWhatLiveProjectsUse:
    @pytest.mark.parametrize(
        "rtype",
        [
            "network.network",
            "network.subnet",
            "network.security_group",
            "network.rbac_policy",
            "network.floating_ip",
            "image.image",
            "block_storage.volume",
        ],
    )
    def test_a_resource_in_live_use_is_protected_and_says_by_whom(
        self, default: PolicySet, rtype: str
    ) -> None:
        decision = decide(default, found(rtype, used_by=(L_PORT,)))
        assert (decision.verdict, decision.policy, decision.rule) == (
            Verdict.PROTECT,
            "never-touch-shared-or-kept",
            LIVE,
        )
        assert (
            decision.reason == "kept: in use by live project p-live (port port-1 on server srv-1)"
        )

    def test_a_shared_image_no_live_server_uses_goes_though_a_member_accepted_it(
        self, default: PolicySet
    ) -> None:
        """A grant alone is no use: the default keeps what breaks a live project if it goes."""
        member = Use("p-live", "image.member", "p-live", "accepted member", kind="grant")
        decision = decide(default, found("image.image", visibility="shared", used_by=(member,)))
        assert decision.verdict is Verdict.ACT

    def test_a_resource_never_checked_for_live_use_is_protected(self, default: PolicySet) -> None:
        """Fail closed: without the live-use stage's answer nothing usable goes."""
        bare = resource_from_sdk(
            resource_types()["network.network"],
            {"id": "n-1", "project_id": PROJECT.id, "reaper_relation": "owner"},
        )
        decision = decide(default, bare)
        assert decision.verdict is Verdict.PROTECT
        assert "could not be evaluated" in decision.reason


class TestDefaultOnDomainDeletion:
    def test_owned_resources_and_users_keypairs_go(self, default: PolicySet) -> None:
        ctx = {"trigger": "identity.domain.deleted", "identity": DOMAIN}
        assert decide(default, found("compute.server"), **ctx).verdict is Verdict.ACT
        assert decide(default, found("compute.keypair"), **ctx).verdict is Verdict.ACT

    def test_what_its_users_created_in_other_domains_stays(self, default: PolicySet) -> None:
        item = found("compute.server", relation="creator", project_id="p-elsewhere")
        decision = decide(default, item, trigger="identity.domain.deleted", identity=DOMAIN)
        assert decision.verdict is Verdict.SKIP
        assert decision.reason.startswith(
            "created by a user of deleted domain d-deleted in live project p-elsewhere"
        )


@pytest.mark.parametrize(
    "trigger", ["identity.project.disabled", "identity.user.disabled", "identity.domain.disabled"]
)
@pytest.mark.parametrize("rtype", sorted(SDK))
def test_disabling_does_nothing_by_default(
    default: PolicySet, forensic: PolicySet, trigger: str, rtype: str
) -> None:
    for policies in (default, forensic):
        assert decide(policies, found(rtype), trigger=trigger).verdict is not Verdict.ACT


QUOTAS = sorted(name for name in resource_types() if name.endswith(".quota"))


@pytest.mark.parametrize(
    "trigger", ["identity.project.disabled", "identity.user.disabled", "identity.domain.disabled"]
)
@pytest.mark.parametrize("rtype", QUOTAS)
def test_a_disabled_projects_quotas_are_not_released(
    default: PolicySet, forensic: PolicySet, trigger: str, rtype: str
) -> None:
    """A disabled project may be enabled again: its quotas stay as they are (no quota step)."""
    assert len(QUOTAS) >= 6, QUOTAS
    for policies in (default, forensic):
        decision = decide(policies, found(rtype), trigger=trigger)
        assert decision.verdict is Verdict.SKIP, (rtype, decision)
        assert not decision.actions


class TestForensic:
    def test_servers_are_preserved_quarantined_then_deleted(self, forensic: PolicySet) -> None:
        decision = decide(forensic, found("compute.server", status="ACTIVE"))
        assert actions(decision) == ["evidence_snapshot", "quarantine", "delete after 7d"]
        assert decision.actions[0].params == {"retention": "90d"}
        assert decision.actions[-1].after == dt.timedelta(days=7)

    def test_volumes_are_snapshotted_then_deleted(self, forensic: PolicySet) -> None:
        decision = decide(forensic, found("block_storage.volume"))
        assert actions(decision) == ["evidence_snapshot", "delete after 7d"]

    @pytest.mark.parametrize("rtype", ["object_store.container", "orchestration.stack"])
    def test_containers_and_stacks_are_kept_as_documents_then_deleted(
        self, forensic: PolicySet, rtype: str
    ) -> None:
        tagged = {"tags": []} if rtype == "orchestration.stack" else {}  # as Heat lists it
        decision = decide(forensic, found(rtype, name="x", **tagged))
        assert actions(decision) == ["evidence_snapshot", "delete after 7d"]
        assert decision.actions[0].params == {"retention": "90d"}

    @pytest.mark.parametrize("rtype", ["network.network", "image.image", "compute.quota"])
    def test_the_rest_waits_out_the_grace_period(self, forensic: PolicySet, rtype: str) -> None:
        assert actions(decide(forensic, found(rtype))) == ["delete after 7d"]

    def test_the_same_protection_as_the_default(self, forensic: PolicySet) -> None:
        assert decide(forensic, found("network.network", is_shared=True)).verdict is (
            Verdict.PROTECT
        )
        kept = found("compute.server", metadata={"reaper:keep": ""})
        assert decide(forensic, kept).verdict is Verdict.PROTECT
