"""Who the sweep's orphans are: owners Keystone does not list, each verified gone.

The survey half of the sweep (:mod:`reaper.cleanup.sweep` acts on it):
Keystone's lists against the identities reaper saw alive (the difference),
and, when one is due, a scan of the cloud's resources (full, or only what
changed since the last scan: :mod:`reaper.cleanup.census`), then one 404
check per candidate in witnessed batches. Pure of the store: what to open
is decided by the caller.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable
from typing import Protocol

from reaper import log
from reaper.cleanup import census, difference
from reaper.cleanup.seams import Cloud
from reaper.cleanup.verify import VerificationError
from reaper.model import IdentityKind, IdentityRef, utcnow
from reaper.store import Known

LOG = log.get(__name__)


class Scan(Protocol):
    """The resource scan: owners Keystone does not list (:func:`census.owners` on a cloud).

    With ``since``, the changed scan: only what changed since then.
    """

    def __call__(
        self,
        *,
        projects: frozenset[str],
        users: frozenset[str],
        cutoff: dt.datetime,
        since: dt.datetime | None = None,
    ) -> census.Census: ...


#: How far before the last scan's start the next changed scan reaches back: a
#: service's clock may be behind reaper's, and a change stamped before a listing
#: may commit after it.
CHANGES_MARGIN = dt.timedelta(minutes=10)


@dataclasses.dataclass(frozen=True)
class Orphan:
    """An owner Keystone does not know, and what it left behind."""

    identity: IdentityRef
    resources: int
    examples: tuple[str, ...]
    verified_gone: bool = False
    #: Ids of every resource the listings found it owning (``examples`` shows a few).
    resource_ids: frozenset[str] = frozenset()
    #: Reaper saw it alive and Keystone no longer lists it (the sweep by difference).
    vanished: bool = False

    @property
    def why(self) -> str:
        """The audit record's reason for opening its tombstone."""
        if self.resources or not self.vanished:
            return (
                f"sweep: {self.resources} resources of an owner Keystone does not know "
                f"(e.g. {', '.join(self.examples)})"
            )
        return (
            f"sweep: reaper saw {self.identity} alive and Keystone no longer lists it "
            "(a deletion whose notification was lost); its cleanup discovers what it owns"
        )


@dataclasses.dataclass(frozen=True)
class SweepResult:
    orphans: list[Orphan]
    #: Every project, user and domain Keystone listed, with its domain (for the directory).
    known: list[Known]
    #: Resource listings the full scan could not read to their end (their owners may be
    #: missing from ``orphans``; none is ever taken to own nothing).
    incomplete: tuple[str, ...] = ()
    #: Whether the cloud's resources were listed (a full scan), or only Keystone's identities.
    full: bool = True
    #: When not full: the changed scan's start (what changed since then was listed), if any.
    since: dt.datetime | None = None


def find_orphans(
    cloud: Cloud,
    *,
    min_age: dt.timedelta = dt.timedelta(0),
    now: dt.datetime | None = None,
    remembered: Iterable[IdentityRef] = (),
    full: bool = True,
    since: dt.datetime | None = None,
    scan: Scan | None = None,
) -> SweepResult:
    """Owners Keystone does not list, each verified gone (in witnessed batches).

    Candidates are the identities among ``remembered`` (seen alive by
    reaper) that Keystone's lists lack (:mod:`reaper.cleanup.difference`)
    and, when ``full``, the owners of resources older than ``min_age`` that
    Keystone does not list (:mod:`reaper.cleanup.census`); when not ``full``
    but ``since`` is given, the owners of resources changed since then. Keystone's lists
    are read through ``cloud.conn`` (a list that cannot be read whole
    raises); each candidate is verified through ``cloud.keystone``. The
    full scan is ``scan``'s (the controller's runs in a process of its own,
    :mod:`reaper.cleanup.scanproc`), else read here through ``cloud.conn``.
    """
    now = now or utcnow()
    known = census.keystone_identities(cloud.conn)
    found: dict[IdentityRef, tuple[str, ...]] = {}
    incomplete: tuple[str, ...] = ()
    changed = None if full else since
    if full or changed is not None:
        projects = frozenset(
            k.identity.id for k in known if k.identity.kind is not IdentityKind.USER
        )
        users = frozenset(k.identity.id for k in known if k.identity.kind is IdentityKind.USER)
        read = scan or functools.partial(census.owners, cloud.conn)
        counted = read(projects=projects, users=users, cutoff=now - min_age, since=changed)
        found = {identity: owned.refs for identity, owned in counted.owned.items()}
        incomplete = counted.incomplete
    gone = difference.vanished(remembered, known)
    orphans = _verified(cloud, difference.candidates(gone, found), frozenset(gone))
    return SweepResult(orphans, known, incomplete, full, changed)


def _verified(
    cloud: Cloud, candidates: dict[IdentityRef, tuple[str, ...]], vanished: frozenset[IdentityRef]
) -> list[Orphan]:
    """The candidates Keystone says are gone (~one request each); the unsure ones wait."""
    orphans = []
    answers = cloud.verify_many(list(candidates))
    for identity, refs in candidates.items():
        answer = answers[identity]
        if isinstance(answer, VerificationError):
            LOG.warning(
                "sweep could not verify an owner", identity=str(identity), error=str(answer)
            )
            continue
        if answer.gone:
            ids = frozenset(ref.split(":", 1)[1] for ref in refs)
            examples = tuple(sorted(refs)[:5])
            orphans.append(
                Orphan(identity, len(refs), examples, True, ids, vanished=identity in vanished)
            )
    return orphans
