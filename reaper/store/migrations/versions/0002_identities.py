"""The identity directory: projects and users seen in Keystone, with their domains.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Additive: an upgrade from 0001 keeps every tombstone, plan and audit record.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reaper.store.types import MYSQL_TABLE_OPTIONS, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("domain_id", sa.String(255), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name=op.f("pk_identities")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_identities_domain", "identities", ["domain_id"])


def downgrade() -> None:
    op.drop_index("ix_identities_domain", table_name="identities")
    op.drop_table("identities")
