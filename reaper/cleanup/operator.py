"""The operator's road: ``reaper plan`` and ``reaper apply --project``.

Like the controller's, but a domain is searched through the members reaper
has seen in it, and the plan is recorded as soon as it is made (the
operator sees it before anything else happens).
"""

from __future__ import annotations

from reaper.audit.trail import AuditTrail
from reaper.cleanup import discover, known
from reaper.cleanup.plan import Planned, make_plan
from reaper.cleanup.record import audit_planned
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.model import IdentityRef
from reaper.policy import PolicySet
from reaper.store import Store


def plan_for_operator(
    cloud: Cloud,
    identity: IdentityRef,
    policies: PolicySet,
    settings: Settings,
    *,
    store: Store,
    trail: AuditTrail,
    disabled_ok: bool = False,
) -> Planned:
    """``reaper plan``'s and ``reaper apply --project``'s path: plan, then audit it.

    The configured protection applies, and a domain is searched through the
    projects and users reaper has seen in it; when it has seen none, the
    plan says so rather than looking complete and empty.
    """
    scope = discover.operator_scope(store, identity)
    verification = cloud.keystone(identity)
    known.remember(store, verification)
    planned = make_plan(
        cloud,
        identity,
        policies,
        settings,
        disabled_ok=disabled_ok,
        scope=scope,
        verification=known.with_domain(store, verification),
        incomplete=[discover.DOMAIN_UNKNOWN] if discover.unknown_domain(scope) else [],
    )
    audit_planned(trail, planned)
    return planned
