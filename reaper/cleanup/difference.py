"""The sweep by difference: who reaper saw alive and Keystone no longer lists.

A cloud-wide resource listing costs the whole cloud; Keystone's three lists
cost three requests. Every identity reaper saw alive is in the directory
(:mod:`reaper.store.directory`), so an identity the directory holds and
Keystone's lists do not is one whose deletion reaper may have missed. Only
those (and owners a full scan finds that nobody ever saw) are candidates,
each verified gone on its own (a 404) before its tombstone opens; the
cleanup's own discovery then finds what it owns.

Pure functions: no I/O, the sweep hands them what it read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reaper.model import IdentityKind, IdentityRef
from reaper.store.directory import Known

#: The kinds compared: owners of resources. A vanished domain's projects vanish with it.
COMPARED = frozenset({IdentityKind.PROJECT, IdentityKind.USER})


def vanished(remembered: Iterable[IdentityRef], listed: Iterable[Known]) -> list[IdentityRef]:
    """Projects and users among ``remembered`` that ``listed`` (Keystone, now) lacks; sorted.

    ``listed`` must be Keystone's whole lists: an identity missing from a
    partial list would look vanished (the caller refuses partial lists).
    """
    alive = {k.identity for k in listed}
    return sorted(i for i in set(remembered) if i.kind in COMPARED and i not in alive)


def candidates(
    gone: Iterable[IdentityRef], found: Mapping[IdentityRef, tuple[str, ...]]
) -> dict[IdentityRef, tuple[str, ...]]:
    """Owners to verify: the vanished ones (owning what the full scan saw, if any) and the rest.

    ``found`` maps owners a full scan found owning resources (and Keystone
    does not list) to those resources' ``kind:id``; it is empty between full
    scans, when the difference alone decides.
    """
    merged = {identity: tuple(found.get(identity, ())) for identity in gone}
    for identity, refs in found.items():
        merged.setdefault(identity, tuple(refs))
    return dict(sorted(merged.items()))
