"""The claims' index holds pending exports alone, in the order claims take them.

The index on (state, next_attempt_at) did not serve the claim query's OR of waiting
and abandoned exports: SQLite read every export of the resource type and sorted them,
so a claim cost grew with every finished export the table keeps. The new one is
partial (pending states only) on (resource_type, next_attempt_at, id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.migrations.adoption import adopting

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING_PREDICATE = "state IN ('queued', 'in_progress', 'erroring')"


def upgrade() -> None:
    if adopting():  # the original's own tables stand in for these (see adoption.py)
        return
    op.drop_index("ix_exports_due", table_name="exports")
    op.create_index(
        "ix_exports_due",
        "exports",
        ["resource_type", "next_attempt_at", "id"],
        sqlite_where=sa.text(PENDING_PREDICATE),
        postgresql_where=sa.text(PENDING_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("ix_exports_due", table_name="exports")
    op.create_index("ix_exports_due", "exports", ["state", "next_attempt_at"])
