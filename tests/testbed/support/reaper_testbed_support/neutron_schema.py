"""Create neutron's database schema from its models.

Neutron's alembic migrations are MySQL-only since 2025.2 and fail on PostgreSQL, so the
testbed builds the schema the way neutron's own unit tests do: ``metadata.create_all`` on
the models that ``neutron.db.migration.models.head`` imports.

Usage: ``python -m reaper_testbed_support.neutron_schema <database URL>``
"""

from __future__ import annotations

import sys

import sqlalchemy
from neutron.db.migration.models import head


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: neutron_schema <database URL>", file=sys.stderr)
        return 2
    engine = sqlalchemy.create_engine(argv[0])
    try:
        head.get_metadata().create_all(engine)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
