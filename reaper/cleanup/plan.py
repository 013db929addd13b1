"""Plan: verify -> discover -> decide -> plan, the same for every caller.

The CLI (``reaper plan``/``apply``) and the controller's workers call
:func:`make_plan`, so what an operator previews is what the service would
do. The result is in hand (:class:`Planned`); persisting it, recording it
(:mod:`reaper.cleanup.record`) and executing it
(:mod:`reaper.cleanup.execute`) are the caller's next steps, each done once.
An operator's command goes through :mod:`reaper.cleanup.operator`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
from collections.abc import Iterable

from reaper import planner
from reaper.cleanup import known
from reaper.cleanup.decide import decide
from reaper.cleanup.seams import Cloud
from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import Refused, Verification
from reaper.inventory.base import Scope
from reaper.inventory.discover import Inventory
from reaper.model import IdentityKind, IdentityRef, Plan, Tombstone, TriggerSource, utcnow
from reaper.policy import PolicySet


@dataclasses.dataclass(frozen=True)
class Planned:
    """A plan and what it was built from, for display and audit."""

    plan: Plan
    verification: Verification
    inventory: Inventory
    trigger: str


def make_plan(
    cloud: Cloud,
    identity: IdentityRef,
    policies: PolicySet,
    settings: Settings,
    *,
    disabled_ok: bool = False,
    scope: Scope | None = None,
    now: dt.datetime | None = None,
    verification: Verification | None = None,
    incomplete: Iterable[str] = (),
    gone_by: dt.datetime | None = None,
) -> Planned:
    """Verify ``identity`` with Keystone, find its resources and plan for them.

    ``scope`` is what to search (the identity's own by default). An identity
    Keystone says is gone was gone by ``gone_by`` (when reaper heard of its
    deletion, :func:`gone_bound`) or else by the end of the verification: the
    scope carries it, so cloud-wide listings begun since serve its discovery
    (:mod:`reaper.inventory.cloudwide`); a disabled identity reads alone. Raises
    :class:`~reaper.cleanup.verify.Refused` when the identity still exists
    (and is enabled, or disabled without ``disabled_ok``), and
    :class:`~reaper.cleanup.verify.VerificationError` when Keystone cannot say.
    """
    # Before any request: a scope refuses owner filters no listing may use.
    scope = scope or Scope.of(identity)
    verification = verification or cloud.keystone(identity)
    if not verification.allows(disabled_ok=disabled_ok):
        raise Refused(verification)
    if verification.gone:  # Keystone's answer is in: gone by now at the latest
        scope = dataclasses.replace(scope, gone_by=gone_bound(gone_by, utcnow()))
    now = now or utcnow()
    trigger = verification.trigger
    # The admin project's id is Keystone's business, the inventory the services': asked
    # side by side (a slow cloud otherwise waits three more round trips after discovery).
    # Its error, if any, is raised here as before: nothing is decided without it.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reaper-house") as pool:
        house = pool.submit(cloud.house, settings.admin_project)
        inventory = cloud.inventory(scope)
        settings = settings.housed(house.result())
    evaluation = decide(
        policies,
        inventory.resources,
        settings,
        trigger=trigger,
        identity=identity,
        now=now,
        # Keystone's while the identity exists; the directory's once it is gone (known).
        domain_id=verification.domain_id,
    )
    # Held, not refused: an operator who knows the domain may approve the plan.
    unknown = known.domain_unknown(settings, verification) if inventory.resources else None
    plan = planner.build_plan(
        identity,
        inventory.resources,
        evaluation.decisions,
        incomplete=(*inventory.incomplete, *incomplete),
        held=(*evaluation.held, *([unknown] if unknown else [])),
        policy_digest=policies.digest,
        trigger=trigger,
        now=now,
    )
    return Planned(plan=plan, verification=verification, inventory=inventory, trigger=trigger)


#: How far apart reaper's hosts' clocks may be: a receipt stamped by the listener's host
#: bounds a deletion on a worker's clock only this much later.
CLOCK_MARGIN = dt.timedelta(seconds=1)


def gone_bound(heard: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When an identity Keystone says is gone was gone by, on this host's clock.

    ``heard``: when reaper received its deletion notification (another host's
    clock, hence :data:`CLOCK_MARGIN`); ``now``: just after Keystone's 404.
    """
    return min(heard + CLOCK_MARGIN, now) if heard is not None else now


def deleted_by(tombstone: Tombstone) -> dt.datetime | None:
    """When reaper received the latest notification of a project's deletion, if it did.

    Keystone sends it after the deletion, and reaper stamps it on receipt
    (its own clock): the project was gone by then. Only projects: their ids
    are never given again, where a user's (LDAP, federation) may come back
    and be deleted again before its next notification arrives.
    """
    if tombstone.identity.kind is not IdentityKind.PROJECT:
        return None
    for trigger in reversed(tombstone.triggers):
        if trigger.source is TriggerSource.NOTIFICATION:
            deleted = (trigger.event_type or "").endswith(".deleted")
            return trigger.received_at if deleted else None
    return None
