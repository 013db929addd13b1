"""Alembic environment: runs only programmatically, on a connection we lend it.

The store opens a transaction (and takes the migration lock) before calling
alembic, and passes the connection in ``config.attributes["connection"]``;
alembic then runs inside that transaction, so a failed upgrade leaves the
schema as it was.
"""

from __future__ import annotations

from alembic import context

from reaper.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the store runs migrations
    raise RuntimeError(
        "reaper's migrations run when the store is opened (reaper.store.Store.open), "
        "not from the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
