"""``cloud_reads``: cloud-wide listings read once for every controller (inventory/shelf.py).

One row per (endpoint, listing): the newest read's start and answer (the
JSON text deflated as plans are, :func:`reaper.store.plans.pack`), or the
read in flight with its reader and lease. Every change is fenced: a read
begins only from the generation its reader saw (so two controllers never
both begin one), and is renewed, answered or abandoned only by its reader
while it is still that generation (so a reader whose lease ran out and was
taken over writes nothing). An operator may read it
(``SELECT endpoint, listing, began_at, reader FROM cloud_reads``) or empty
it at any time: the next discovery reads the cloud again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import and_, select, update

from reaper.store.database import Database
from reaper.store.plans import pack, unpack
from reaper.store.schema import cloud_reads as R


@dataclasses.dataclass(frozen=True)
class ReadRow:
    """A listing's row: its newest read, or the read in flight."""

    generation: int
    began: dt.datetime | None = None
    reader: str | None = None
    expires_at: dt.datetime | None = None
    answered: bool = False


class ReadRepository:
    """The store's shelf of cloud-wide reads."""

    def __init__(self, db: Database) -> None:
        self._db = db
        #: (endpoint, listing) whose row exists: made once per process.
        self._made: set[tuple[str, str]] = set()

    def look(self, endpoint: str, listing: str) -> ReadRow:
        if (endpoint, listing) not in self._made:
            with self._db.write("make a shared read's row") as conn:
                self._db.insert_ignore(
                    conn,
                    R,
                    {"endpoint": endpoint, "listing": listing, "generation": 0},
                    ["endpoint", "listing"],
                )
            self._made.add((endpoint, listing))
        with self._db.read("look for a shared read") as conn:
            row = conn.execute(
                select(
                    R.c.generation,
                    R.c.began_at,
                    R.c.reader,
                    R.c.expires_at,
                    R.c.body.is_not(None),
                ).where(_row(endpoint, listing))
            ).one()
        return ReadRow(
            generation=int(row[0]),
            began=row[1],
            reader=row[2],
            expires_at=row[3],
            answered=bool(row[4]),
        )

    def body(self, endpoint: str, listing: str, generation: int) -> str | None:
        with self._db.read("read a shared read") as conn:
            stored = conn.execute(
                select(R.c.body).where(
                    _row(endpoint, listing), R.c.generation == generation, R.c.reader.is_(None)
                )
            ).scalar()
        return None if stored is None else unpack(stored)

    def begin(
        self,
        endpoint: str,
        listing: str,
        generation: int,
        reader: str,
        began: dt.datetime,
        expires_at: dt.datetime,
    ) -> bool:
        with self._db.write("begin a shared read") as conn:
            done = conn.execute(
                update(R)
                .where(_row(endpoint, listing), R.c.generation == generation)
                .values(
                    generation=generation + 1,
                    began_at=began,
                    reader=reader,
                    expires_at=expires_at,
                    body=None,
                )
            )
        return bool(done.rowcount == 1)

    def renew(
        self, endpoint: str, listing: str, generation: int, reader: str, expires_at: dt.datetime
    ) -> bool:
        with self._db.write("renew a shared read") as conn:
            done = conn.execute(
                update(R)
                .where(_mine(endpoint, listing, generation, reader))
                .values(expires_at=expires_at)
            )
        return bool(done.rowcount == 1)

    def finish(self, endpoint: str, listing: str, generation: int, reader: str, body: str) -> bool:
        packed = pack(body.encode("utf-8"))
        with self._db.write("write a shared read") as conn:
            done = conn.execute(
                update(R)
                .where(_mine(endpoint, listing, generation, reader))
                .values(reader=None, expires_at=None, body=packed)
            )
        return bool(done.rowcount == 1)

    def abandon(self, endpoint: str, listing: str, generation: int, reader: str) -> None:
        with self._db.write("abandon a shared read") as conn:
            conn.execute(
                update(R)
                .where(_mine(endpoint, listing, generation, reader))
                .values(began_at=None, reader=None, expires_at=None, body=None)
            )


def _row(endpoint: str, listing: str):  # type: ignore[no-untyped-def]
    return and_(R.c.endpoint == endpoint, R.c.listing == listing)


def _mine(endpoint: str, listing: str, generation: int, reader: str):  # type: ignore[no-untyped-def]
    return and_(_row(endpoint, listing), R.c.generation == generation, R.c.reader == reader)
