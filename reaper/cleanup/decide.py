"""Decide: the policies' verdict on every discovered resource.

Evaluation itself is the policy stage's (:func:`reaper.policy.evaluate`,
pure); the road brings the context, made from the one :class:`Settings`
value so the configured protection applies on every path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from reaper.cleanup.settings import Settings
from reaper.model import IdentityRef, Resource
from reaper.policy import Evaluation, PolicySet, evaluate


def decide(
    policies: PolicySet,
    resources: Iterable[Resource],
    settings: Settings,
    *,
    trigger: str,
    identity: IdentityRef,
    now: dt.datetime | None = None,
    domain_id: str | None = None,
) -> Evaluation:
    """One decision per resource, in order, and any reasons to hold the plan."""
    context = settings.context(trigger, identity, now=now, domain_id=domain_id)
    return evaluate(policies, resources, context)
