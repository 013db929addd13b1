"""Opening reaper's store from a command: which one, and what to fix when it cannot be opened.

Shared by ``reaper`` and ``openstack reaper``. A read-only command
(``create=False``: ``tombstone list``, ``audit show``, ``audit verify``...)
never makes a store: an empty SQLite file would hide a wrong ``state_path``
behind "no tombstones" or "OK, 0 records". A store that cannot be opened is
one line naming the path and the option that set it, never a traceback.
"""

from __future__ import annotations

import os
from typing import Any

from reaper import config
from reaper.cli.exitcodes import OperatorError


class StoreProblem(OperatorError):
    """The store reaper.conf names is missing or cannot be opened; the message says what to fix."""


def describe(conf: Any) -> str:
    """The store's location as an operator can check it (no password)."""
    from sqlalchemy.engine import make_url

    return make_url(config.store_url(conf)).render_as_string(hide_password=True)


def where(conf: Any) -> str:
    """Which option chose the store: ``[store] connection`` or ``[DEFAULT] state_path``."""
    if conf.store.connection:
        return "[store] connection"
    return f"[DEFAULT] state_path = {conf.state_path}"


def open_store(conf: Any, *, create: bool, missing_hint: str) -> Any:
    """The store reaper.conf names, or :class:`StoreProblem` saying what is wrong.

    ``missing_hint`` is the next step when a read-only command finds no
    store (which option or file to pass, per command line).
    """
    from sqlalchemy import exc as sa_exc

    from reaper.store import Store, StoreError
    from reaper.store.engine import sqlite_path

    path = sqlite_path(config.store_url(conf))
    if path is not None and not create and not os.path.exists(path):
        raise StoreProblem(
            f"no store at {path} ({where(conf)}): the controller or `reaper apply` "
            f"creates it; {missing_hint}"
        )
    try:
        return Store.from_conf(conf)
    except OSError as exc:  # the SQLite file or its directory cannot be made
        reason = exc.strerror or str(exc)
        raise StoreProblem(
            f"cannot create the store {path} ({where(conf)}): {reason} "
            f"({exc.filename or path}); set state_path to a directory this user can write"
        ) from exc
    except (StoreError, sa_exc.SQLAlchemyError) as exc:
        if path is not None:
            raise StoreProblem(
                f"cannot open the store {path} ({where(conf)}): {exc}; check that this "
                "user can read and write it"
            ) from exc
        raise StoreProblem(
            f"cannot open the store {describe(conf)} ({where(conf)}): {exc}; check the URL "
            "and that the database is running"
        ) from exc
