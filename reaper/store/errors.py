"""The store's typed errors: what callers can catch without knowing SQLAlchemy.

The pipeline must tell "the database is gone, try later" apart from "this
would break an invariant" (a step that already ran, a state that moved on),
because the first is retried and the second never is.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class StoreUnavailable(StoreError):
    """The database could not be reached, or went away during a transaction.

    The transaction was rolled back by the database, so nothing of it is
    visible, except when the connection broke during ``COMMIT`` itself: then
    ``commit_unknown`` is true and the caller cannot know whether it landed
    (for the audit chain both cases are consistent: a commit is atomic).
    """

    def __init__(self, message: str, *, commit_unknown: bool = False) -> None:
        super().__init__(message)
        self.commit_unknown = commit_unknown


class Deadlock(StoreUnavailable):
    """The database rolled this transaction back to break a deadlock (or a
    serialization conflict): nothing of it was written, and running it again
    is expected to succeed.

    MySQL/MariaDB meet this in ordinary use: writers that wait for the same
    new unique key each hold a shared lock on it, and the first to want it
    exclusively deadlocks against the others. Repository methods that own
    their transaction run it again (:func:`reaper.store.database.retry_conflicts`).
    """


class SchemaError(StoreError):
    """The database schema is not one this version of reaper can use."""


class NotFound(StoreError, LookupError):
    """No row with that key."""


class StateConflict(StoreError):
    """A compare-and-set lost: the row is not in the expected state or owner."""


class StepAlreadyFinal(StoreError):
    """A step already has a final outcome; a step never runs (or is recorded) twice."""
