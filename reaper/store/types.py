"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB.

SQLite has no time zones: without this, a timestamp written as aware UTC is
read back naive on SQLite and aware on PostgreSQL, and comparisons between
them raise. Every timestamp in the store is UTC, stored naive on SQLite and
MySQL (``DATETIME(6)``: MySQL's ``DATETIME`` keeps whole seconds unless
told otherwise, and leases and due times need better) and as
``timestamptz`` on PostgreSQL, and always read back aware.

MySQL's ``TEXT`` holds 64 KiB; a plan or an audit record can be larger, so
text columns are ``LONGTEXT`` there (4 GiB), as on the other two databases
where ``TEXT`` has no such limit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: 64-bit keys on PostgreSQL and MySQL; SQLite only auto-increments ``INTEGER PRIMARY KEY``.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")

#: Unbounded text on every database.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

#: Dialects that store timestamps without a zone.
_NAIVE = frozenset({"sqlite", "mysql", "mariadb"})

#: Options of every table on MySQL: four-byte UTF-8, and binary comparison of
#: text, as on PostgreSQL and SQLite (a case-insensitive collation would make
#: two keypair names that differ in case one unique key).
MYSQL_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        if dialect.name in _NAIVE:
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
