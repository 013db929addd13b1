"""What the road asks of the cloud, one seam per question.

Keystone (is the identity gone?), the inventory (what does it still own?)
and the executor's runner (act on it) are reached through a :class:`Cloud`,
which production builds over one openstacksdk connection and a unit test
builds from fakes. Nothing of the road calls openstacksdk itself.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reaper.actions.runner import Prechecker, SdkRunner
from reaper.cleanup import batchverify
from reaper.cleanup.house import HouseCheck, house_projects
from reaper.cleanup.verify import IdentityCheck, verify
from reaper.executor import Runner
from reaper.inventory.base import Scope
from reaper.inventory.discover import Inventory, discover
from reaper.model import IdentityRef
from reaper.reclaim import Measure, measure


@dataclasses.dataclass(frozen=True)
class Cloud:
    #: Keystone's answer about one identity.
    keystone: IdentityCheck
    #: Everything a scope owns, as the registered handlers find it.
    inventory: Callable[[Scope], Inventory]
    #: The executor's way to act, given the re-check to run before the first step and
    #: the hash of the plan it runs (actions name what they create after it).
    runner: Callable[[Prechecker | None, str], Runner]
    #: Reaper's own project and the admin project's id (always protected), asked before
    #: every decision so no caller can forget them.
    house: HouseCheck
    #: The connection behind the seams, when there is one (request counts, the sweep).
    conn: Any = None
    #: A project's usages as the services account for them (``None``: not measured).
    usage: Measure | None = None
    #: Keystone's answer about many identities at once, the witness asked once per batch
    #: (:mod:`reaper.cleanup.batchverify`); ``None``: :attr:`keystone` one by one.
    keystone_many: (
        Callable[[Sequence[IdentityRef]], Mapping[IdentityRef, batchverify.Answer]] | None
    ) = None

    def verify_many(
        self, identities: Sequence[IdentityRef]
    ) -> Mapping[IdentityRef, batchverify.Answer]:
        """Keystone's answer about each of ``identities`` (the sweep's candidates)."""
        if self.keystone_many is not None:
            return self.keystone_many(identities)
        # Each check witnesses its own 404 already: no batch witness to add.
        return batchverify.verify_many(self.keystone, lambda: None, identities)

    @classmethod
    def of(cls, conn: Any) -> Cloud:
        """The seams over one admin (or read-only) connection."""
        return cls(
            keystone=functools.partial(verify, conn),
            inventory=functools.partial(discover, conn),
            runner=lambda prechecker, plan_hash: SdkRunner(
                conn, prechecker=prechecker, plan_hash=plan_hash
            ),
            house=functools.partial(house_projects, conn),
            conn=conn,
            usage=functools.partial(measure, conn),
            keystone_many=functools.partial(batchverify.verify_gone, conn),
        )
