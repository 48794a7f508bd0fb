"""The worker's bookkeeping on exports: attempts, when due, who holds the claim.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.migrations.adoption import adopting

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if adopting():  # the original's own tables stand in for these (see adoption.py)
        return
    with op.batch_alter_table("exports") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claim_token", sa.Uuid(as_uuid=False), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_exports_due", ["state", "next_attempt_at"], unique=False)
    # Exports queued before the worker existed are due now.
    op.execute("UPDATE exports SET next_attempt_at = created_at WHERE state IN ('queued', 'erroring')")


def downgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.drop_index("ix_exports_due")
        batch.drop_column("claimed_until")
        batch.drop_column("claim_token")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
