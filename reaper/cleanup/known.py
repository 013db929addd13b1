"""Known: what the directory of identities seen alive lets reaper conclude from a 404.

Keystone answers 404 for an id it deleted, and just as well for one it never
made (``%``, ``*``, a live id in upper case). And once an identity is gone,
Keystone cannot say which domain it was in, so ``protected_domain_ids``
could not protect it. The directory (:mod:`reaper.store.directory`) keeps
both facts from while the identity was alive. Two rules, both failing closed:

* **never known**: a deletion is acted on only for an identity the directory
  saw alive, or one the sweep's own unfiltered listings found owning
  resources (a ``sweep`` trigger), or one an operator named (``cli``).
  Anything else is refused as "never known" and nothing is listed for it
  (:func:`never_known`);
* **domain unknown**: when any domain is protected, a gone project or user
  whose domain the directory does not hold is planned but held for an
  operator, with the reason (:func:`domain_unknown`), since reaper cannot
  tell whether its domain is protected.

And every time Keystone *does* find the identity, its domain is written down
(:func:`remember`), so the directory learns it while it still can.
"""

from __future__ import annotations

import dataclasses

from reaper.cleanup.settings import Settings
from reaper.cleanup.verify import Verification
from reaper.model import IdentityKind, Tombstone, TriggerSource
from reaper.store import Store
from reaper.store.directory import KEYSTONE, Known

#: Triggers that vouch for an identity the directory never saw: the sweep found
#: resources it owns in cloud-wide listings; an operator named it.
VOUCHING = frozenset({TriggerSource.SWEEP, TriggerSource.CLI})


def remember(store: Store, verification: Verification) -> None:
    """Keystone found the identity: write it and its domain down while Keystone can say."""
    if verification.gone:
        return
    domain = (
        verification.domain_id if verification.identity.kind is not IdentityKind.DOMAIN else None
    )
    store.directory.record(
        [Known(verification.identity, domain, verification.name)], source=KEYSTONE
    )


def with_domain(store: Store, verification: Verification) -> Verification:
    """``verification`` carrying the identity's domain: Keystone's, else the directory's."""
    if verification.domain_id is not None or verification.identity.kind is IdentityKind.DOMAIN:
        return verification
    known = store.directory.get(verification.identity)
    if known is None or known.domain_id is None:
        return verification
    return dataclasses.replace(verification, domain_id=known.domain_id)


def never_known(store: Store, tombstone: Tombstone) -> str | None:
    """Why a gone identity must not be acted on because nobody ever saw it alive; or None."""
    if any(t.source in VOUCHING for t in tombstone.triggers):
        return None
    if store.directory.get(tombstone.identity) is not None:
        return None
    return (
        f"never known: reaper never saw {tombstone.identity} alive (no sweep listed it, no "
        "created notification named it, Keystone never answered for it) and no cloud-wide "
        "listing found resources owned by it; Keystone's 404 proves 'gone' only for an id "
        "that existed, so nothing is done. A later sweep that finds resources owned by it "
        "reopens this tombstone"
    )


def domain_unknown(settings: Settings, verification: Verification) -> str | None:
    """Why a plan must be held because the identity's domain may be protected; or None."""
    if not settings.protected_domain_ids or verification.identity.kind is IdentityKind.DOMAIN:
        return None
    if verification.domain_id is not None:
        return None
    return (
        f"the domain of {verification.identity} is unknown (Keystone no longer has it and "
        "reaper never recorded it) while protected_domain_ids is set: it may belong to a "
        "protected domain"
    )
