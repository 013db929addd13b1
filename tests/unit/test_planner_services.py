"""Plans for load balancers, Swift and Designate: what goes first, what goes along."""

from __future__ import annotations

from reaper import planner
from reaper.model import Decision, Plan, Resource
from tests.unit.test_planner import NOW, P, act, protect, res


def plan(resources: list[Resource], decisions: list[Decision] | None = None) -> Plan:
    chosen = decisions if decisions is not None else [act(r) for r in resources]
    return planner.build_plan(P, resources, chosen, now=NOW)


def deps(built: Plan, step_id: str) -> set[str]:
    return next(set(s.depends_on) for s in built.steps if s.id == step_id)


LB = res("load_balancer.load_balancer", "lb", ("network", "network.network", "n"),
         ("subnet", "network.subnet", "s"))  # fmt: skip
VIP = res("network.port", "vip", ("device", "load_balancer.load_balancer", "lb"),
          ("network", "network.network", "n"))  # fmt: skip
NET = res("network.network", "n")
SUB = res("network.subnet", "s", ("network", "network.network", "n"))
POOL = res("load_balancer.pool", "pool", ("load_balancer", "load_balancer.load_balancer", "lb"))


def test_the_load_balancer_goes_before_its_vip_port_subnet_and_network() -> None:
    built = plan([LB, VIP, NET, SUB])

    assert "delete:load_balancer.load_balancer:lb" in deps(built, "delete:network.network:n")
    assert "delete:load_balancer.load_balancer:lb" in deps(built, "delete:network.subnet:s")
    assert deps(built, "delete:network.port:vip") == {"delete:load_balancer.load_balancer:lb"}


def test_children_go_with_the_cascade_and_are_protected_with_their_load_balancer() -> None:
    removed = plan([LB, POOL])
    kept = plan([LB, POOL], [protect(LB), act(POOL)])

    assert [s.id for s in removed.steps] == ["delete:load_balancer.load_balancer:lb"]
    assert kept.steps == ()
    assert kept.decisions[1].verdict.value == "protect"


def test_a_kept_load_balancer_keeps_its_network() -> None:
    built = plan([LB, NET], [protect(LB), act(NET)])

    assert built.steps == ()


def test_containers_go_before_their_segments_and_the_account_last() -> None:
    account = res("object_store.account", "p1")
    manifests = res("object_store.container", "p1/c", ("account", "object_store.account", "p1"),
                    ("segments", "object_store.container", "p1/c_segments"))  # fmt: skip
    segments = res("object_store.container", "p1/c_segments",
                   ("account", "object_store.account", "p1"))  # fmt: skip
    built = plan([account, segments, manifests])

    assert deps(built, "delete:object_store.container:p1/c_segments") == {
        "delete:object_store.container:p1/c"
    }
    assert deps(built, "delete:object_store.account:p1") == {
        "delete:object_store.container:p1/c",
        "delete:object_store.container:p1/c_segments",
    }


SHARE = res("shared_file_system.share", "sh",
            ("share_network", "shared_file_system.share_network", "sn"),
            ("share_group", "shared_file_system.share_group", "g"))  # fmt: skip
RULE = res("shared_file_system.access_rule", "rule", ("share", "shared_file_system.share", "sh"))
SNAP = res("shared_file_system.snapshot", "snap", ("share", "shared_file_system.share", "sh"))
REPLICA = res("shared_file_system.replica", "rep", ("share", "shared_file_system.share", "sh"))
SHARE_NET = res("shared_file_system.share_network", "sn", ("network", "network.network", "n"))
GROUP = res("shared_file_system.share_group", "g")


def test_a_share_goes_after_its_rules_snapshots_and_replicas_then_its_network_and_group() -> None:
    built = plan([GROUP, SHARE_NET, NET, SHARE, RULE, SNAP, REPLICA])

    assert deps(built, "delete:shared_file_system.share:sh") == {
        "delete:shared_file_system.access_rule:rule",
        "delete:shared_file_system.snapshot:snap",
        "delete:shared_file_system.replica:rep",
    }
    assert deps(built, "delete:shared_file_system.share_network:sn") == {
        "delete:shared_file_system.share:sh"
    }
    assert deps(built, "delete:shared_file_system.share_group:g") == {
        "delete:shared_file_system.share:sh"
    }
    assert "delete:shared_file_system.share_network:sn" in deps(built, "delete:network.network:n")


def test_a_shares_rules_go_before_its_replicas_and_its_replicas_before_its_snapshots() -> None:
    """Manila refuses to deny a rule or delete a snapshot while a replica is deleting."""
    rule = res("shared_file_system.access_rule", "rule",
               ("share", "shared_file_system.share", "sh"),
               ("replica", "shared_file_system.replica", "rep"))  # fmt: skip
    replica = res("shared_file_system.replica", "rep",
                  ("share", "shared_file_system.share", "sh"),
                  ("snapshot", "shared_file_system.snapshot", "snap"))  # fmt: skip
    built = plan([SHARE, rule, SNAP, replica])

    assert deps(built, "delete:shared_file_system.replica:rep") == {
        "delete:shared_file_system.access_rule:rule"
    }
    assert deps(built, "delete:shared_file_system.snapshot:snap") == {
        "delete:shared_file_system.replica:rep"
    }


def test_a_kept_share_keeps_its_rules_replicas_network_and_group() -> None:
    resources = [GROUP, SHARE_NET, SHARE, RULE, REPLICA]
    built = plan(resources, [act(GROUP), act(SHARE_NET), protect(SHARE), act(RULE), act(REPLICA)])

    assert built.steps == ()


STACK = res("orchestration.stack", "st", ("created", "network.network", "n"),
            ("created", "network.subnet", "s"))  # fmt: skip
FAILED_STACK = res("orchestration.stack", "st", ("leftover", "network.network", "n"),
                   ("leftover", "network.subnet", "s"))  # fmt: skip


def test_a_stack_goes_through_heat_before_what_it_created() -> None:
    built = plan([STACK, NET, SUB])

    assert deps(built, "delete:orchestration.stack:st") == set()
    assert "delete:orchestration.stack:st" in deps(built, "delete:network.network:n")
    assert "delete:orchestration.stack:st" in deps(built, "delete:network.subnet:s")


def test_a_stack_stays_when_something_it_created_is_kept_and_keeps_the_rest() -> None:
    built = plan([STACK, NET, SUB], [act(STACK), protect(NET), act(SUB)])

    assert built.steps == ()
    assert built.decisions[0].verdict.value == "skip"


def test_a_stack_whose_deletion_failed_waits_for_its_leftovers() -> None:
    built = plan([FAILED_STACK, NET, SUB])

    assert {"delete:network.network:n", "delete:network.subnet:s"} <= deps(
        built, "delete:orchestration.stack:st"
    )


USER_PORT = res("network.port", "up", ("network", "network.network", "n"))
STACK_SERVER = res("compute.server", "vm")
STACK_WITH_SERVER = res("orchestration.stack", "st", ("created", "network.network", "n"),
                        ("created", "compute.server", "vm"))  # fmt: skip
USER_PORT_ON_STACK_SERVER = res("network.port", "up", ("network", "network.network", "n"),
                                ("device", "compute.server", "vm"))  # fmt: skip


def test_what_the_tenant_added_to_a_stacks_network_goes_before_the_stack() -> None:
    """Heat would fail to delete its network while the tenant's own port is on it (409),
    leaving the stack DELETE_FAILED: the port goes first, then the stack, then the network."""
    built = plan([STACK, NET, SUB, USER_PORT])

    assert "delete:network.port:up" in deps(built, "delete:orchestration.stack:st")
    assert "delete:orchestration.stack:st" in deps(built, "delete:network.network:n")


def test_a_stacks_own_resources_do_not_hold_the_stack_back() -> None:
    built = plan([STACK, NET, SUB])

    assert "delete:network.subnet:s" not in deps(built, "delete:orchestration.stack:st")


def test_a_tenant_port_that_must_wait_for_a_stack_server_does_not_make_a_cycle() -> None:
    """The port waits for the stack's server (its device), so it cannot also go before the
    stack: the plan keeps Heat first and the port before the network, as before."""
    built = plan([STACK_WITH_SERVER, NET, STACK_SERVER, USER_PORT_ON_STACK_SERVER])

    assert "delete:network.port:up" not in deps(built, "delete:orchestration.stack:st")
    assert "delete:network.port:up" in deps(built, "delete:network.network:n")


FIP = res("network.floating_ip", "fip")
PTR = res("dns.floatingip_ptr", "RegionOne:fip", ("address", "network.floating_ip", "fip"))


def test_a_floating_ips_reverse_dns_is_unset_before_the_address_is_released() -> None:
    built = plan([FIP, PTR])

    assert deps(built, "delete:network.floating_ip:fip") == {
        "delete:dns.floatingip_ptr:RegionOne:fip"
    }


def test_a_kept_floating_ip_keeps_its_reverse_dns() -> None:
    built = plan([FIP, PTR], [protect(FIP), act(PTR)])

    assert built.steps == ()
    assert built.decisions[0].resource.type == "dns.floatingip_ptr"
    assert built.decisions[0].verdict.value == "protect"
