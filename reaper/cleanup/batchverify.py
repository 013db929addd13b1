"""Many owners verified at once: one request each, the witness asked once per batch.

:func:`reaper.cleanup.verify.verify` counts a 404 only with reaper's own
project and user found right after it: three sequential requests for every
gone identity. A sweep that finds a thousand vanished owners would make
three thousand, one after the other. Here the sweep's owners are asked in
batches of :data:`BATCH`, on a pool of :data:`WORKERS` threads, and the
witness (reaper's own project and user) is asked before each batch's first
question and after its last answer; the witness after one batch is the
witness before the next.

Invariant (the witness rule, per batch): a ``GONE`` verdict counts only when
the witnesses on both sides of its batch found reaper's own account, so
every 404 that counts was answered between two reads by which Keystone
knew reaper's account: the same call window :func:`verify` asks for. A
batch next to a failed witness keeps no ``GONE`` verdict (those owners are
"Keystone cannot say", asked again by the next sweep); its ``ENABLED`` and
``DISABLED`` verdicts stand, since they never let reaper act. After a failed
witness nothing more is asked.

This is the sweep's economy only: the worker's and ``reaper apply``'s
:func:`~reaper.cleanup.verify.verify_before_execute` still asks about one
identity with its own witness, just before anything is touched.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reaper import log
from reaper.cleanup.verify import IdentityCheck, Verification, VerificationError, ask, own_account
from reaper.model import IdentityRef

LOG = log.get(__name__)

#: Owners asked between two witnesses: a window of ~BATCH / WORKERS request times.
BATCH = 100
#: Questions in flight at once: a small pool, so a sweep never crowds Keystone.
WORKERS = 4

#: What a batch check says about one identity: a verdict, or why Keystone cannot say.
Answer = Verification | VerificationError


def settle(
    batches: Sequence[Mapping[IdentityRef, Answer]], witnesses: Sequence[bool]
) -> dict[IdentityRef, Answer]:
    """Each batch's answers, its ``GONE`` verdicts kept only between two good witnesses.

    ``witnesses[i]`` is the witness asked before ``batches[i]`` and
    ``witnesses[i + 1]`` the one asked after it, so there is one witness
    more than there are batches.
    """
    if len(witnesses) != len(batches) + 1:
        raise ValueError(f"{len(batches)} batches need {len(batches) + 1} witnesses")
    settled: dict[IdentityRef, Answer] = {}
    for i, batch in enumerate(batches):
        trusted = witnesses[i] and witnesses[i + 1]
        for identity, answer in batch.items():
            if isinstance(answer, Verification) and answer.gone and not trusted:
                answer = VerificationError(
                    f"Keystone said {identity} is gone, but reaper's own project and user were "
                    "not both found before and after its batch of checks"
                )
            settled[identity] = answer
    return settled


def verify_many(
    check: IdentityCheck,
    witness: Callable[[], None],
    identities: Sequence[IdentityRef],
    *,
    batch: int = BATCH,
    workers: int = WORKERS,
) -> dict[IdentityRef, Answer]:
    """``check`` of every identity, in batches between calls of ``witness``; see the invariant.

    ``witness`` raises when Keystone does not find reaper's own account.
    Every identity gets an answer: those never asked (after a failed
    witness) a :class:`VerificationError`.
    """
    wanted = list(dict.fromkeys(identities))
    if not wanted:
        return {}
    chunks = [wanted[i : i + batch] for i in range(0, len(wanted), max(batch, 1))]
    witnesses = [_found(witness)]
    batches: list[dict[IdentityRef, Answer]] = []
    with concurrent.futures.ThreadPoolExecutor(max(1, min(workers, batch))) as pool:
        for chunk in chunks:
            if not witnesses[-1]:
                break
            answers = pool.map(lambda identity: _answer(check, identity), chunk)
            batches.append(dict(zip(chunk, answers, strict=True)))
            witnesses.append(_found(witness))
    settled = settle(batches, witnesses)
    for identity in wanted:
        settled.setdefault(
            identity,
            VerificationError(
                f"{identity} not asked: Keystone did not find reaper's own project and user"
            ),
        )
    return settled


def verify_gone(conn: Any, identities: Sequence[IdentityRef]) -> dict[IdentityRef, Answer]:
    """:func:`verify_many` through an admin connection: one request per identity."""
    return verify_many(lambda i: ask(conn, i), lambda: own_account(conn), identities)


def _answer(check: IdentityCheck, identity: IdentityRef) -> Answer:
    try:
        return check(identity)
    except VerificationError as exc:
        return exc
    except Exception as exc:  # a check that let something else through: it could not say
        return VerificationError(
            f"Keystone could not confirm {identity}: {type(exc).__name__}: {exc}"
        )


def _found(witness: Callable[[], None]) -> bool:
    try:
        witness()
    except Exception as exc:
        LOG.warning("sweep: the batch's verdicts of 'gone' do not count", error=str(exc))
        return False
    return True
