"""Which relation orders a removal which way, and the order a human would clean up in.

The inventory records dependencies as edges (``Resource.edges``: *source*
--relation--> *target*). Per relation:

``uses`` relations (source removed **before** target): :data:`SOURCE_FIRST`
    ``network``, ``subnet``, ``volume``, ``security_group``, ``router``,
    ``object`` (RBAC entry -> the network, group, pool, scope or QoS policy
    it shares), ``subnet_pool``, ``address_scope``, ``qos_policy`` (a subnet
    before its pool, the pool before its scope, a network or port before its
    QoS policy), ``source_snapshot``, ``account``
    (Swift container -> its account: the account goes last), ``segments``
    (a container -> the one holding its large objects' segments), ``share``,
    ``share_network``, ``share_group`` (a Manila share's access rules,
    snapshots and replicas go before it, the share before its network and
    group) and ``created`` (a Heat stack goes before the resources it made).
``part-of`` relations (target removed **before** source): :data:`TARGET_FIRST`
    ``device`` (port -> server, a load balancer's VIP port -> it), ``server``
    (volume attachment -> server), ``floating_ip`` (router interface -> each
    floating IP routed through that router: Neutron refuses to remove an
    interface a floating IP uses) and ``leftover`` (a stack whose deletion
    failed waits for the resources it left, which their own handlers remove).

The other tables say where protection spreads (:data:`CONTAINED_IN`), what
keeps its source (:data:`HELD_BY`) and what goes with its target without a
step of its own (:data:`CARRIED`). Pure data: every other planner module
reads it, it reads nothing of theirs.
"""

from __future__ import annotations

from collections.abc import Mapping

from reaper.model import ResourceRef

SOURCE_FIRST = frozenset(
    {
        "network",
        "subnet",
        "volume",
        "security_group",
        "router",
        "object",
        "source_snapshot",
        "account",
        "segments",
        "share",
        "share_network",
        "share_group",
        # A share's rules before its replicas, its replicas before its snapshots (Manila
        # refuses to deny a rule, or delete a snapshot, while a replica is deleting).
        "replica",
        "snapshot",
        "created",
        # A floating IP's reverse DNS record is unset before the address is released.
        "address",
        # A subnet before its pool, a pool before its address scope, a network or
        # port before its QoS policy.
        "subnet_pool",
        "address_scope",
        "qos_policy",
    }
)
TARGET_FIRST = frozenset({"device", "server", "floating_ip", "leftover"})
#: source --relation--> target where the source is not removed while the target stays:
#: a Heat stack would delete a resource it created (``created``) that a policy keeps.
HELD_BY = frozenset({"created"})
#: source --relation--> target where the source is protected when the target is.
CONTAINED_IN = frozenset(
    {
        ("network.subnet", "network"),
        ("network.router_interface", "router"),
        ("network.rbac_policy", "object"),
        ("object_store.container", "account"),
        ("load_balancer.listener", "load_balancer"),
        ("load_balancer.pool", "load_balancer"),
        ("load_balancer.health_monitor", "load_balancer"),
        ("dns.zone_transfer_request", "zone"),
        ("dns.floatingip_ptr", "address"),
        ("shared_file_system.access_rule", "share"),
        ("shared_file_system.replica", "share"),
    }
)
#: source --relation--> target where removing the target removes the source: no step of
#: its own then (a load balancer's cascade deletion takes its listeners, pools, monitors).
CARRIED = frozenset(
    {
        ("load_balancer.listener", "load_balancer"),
        ("load_balancer.pool", "load_balancer"),
        ("load_balancer.health_monitor", "load_balancer"),
    }
)
REMOVAL_ACTIONS = frozenset({"delete"})

#: Display and tie-break order: roughly the order a human would clean up in.
TYPE_RANK: Mapping[str, int] = {
    "orchestration.stack": 3,
    "load_balancer.load_balancer": 5,
    "load_balancer.listener": 6,
    "load_balancer.pool": 7,
    "load_balancer.health_monitor": 8,
    "dns.floatingip_ptr": 9,
    "network.floating_ip": 10,
    "shared_file_system.access_rule": 12,
    "shared_file_system.snapshot": 13,
    "shared_file_system.replica": 14,
    "shared_file_system.share": 15,
    "shared_file_system.share_group": 16,
    "shared_file_system.share_network": 17,
    "compute.server": 20,
    "compute.volume_attachment": 25,
    "compute.server_group": 27,
    "placement.allocation": 29,
    "compute.keypair": 28,
    "block_storage.snapshot": 30,
    "block_storage.backup": 32,
    "block_storage.volume": 40,
    "network.router_interface": 50,
    "network.port": 55,
    "network.router": 60,
    "network.rbac_policy": 62,
    "network.subnet": 65,
    "network.network": 70,
    "network.subnet_pool": 72,
    "network.address_scope": 74,
    "network.qos_policy": 76,
    "network.security_group": 80,
    "image.member": 84,
    "image.image": 85,
    "object_store.container": 86,
    "object_store.account": 87,
    "dns.recordset": 88,
    "dns.zone_share": 88,
    "dns.zone_transfer_request": 88,
    "dns.zone": 89,
    "compute.quota": 98,
    "block_storage.quota": 98,
    "network.quota": 98,
    "load_balancer.quota": 98,
    "dns.quota": 98,
    "shared_file_system.quota": 98,
}


def rank(ref: ResourceRef) -> tuple[int, str, str]:
    """The display and tie-break key of a resource: its type's rank, then type and id."""
    return (TYPE_RANK.get(ref.type, 90), ref.type, ref.id)
