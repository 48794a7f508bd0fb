"""Operating the queue: each external system's pause and circuit breaker, and cancelling in flight.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to external_systems: the Rails side owns that table and may delete
    # a system; a control row left behind is ignored by every reader. Timestamps are
    # without time zone, holding UTC, as every one of the Rails schema.
    op.create_table(
        "export_responses_system_controls",
        sa.Column("external_system_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("paused_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("paused_by", sa.String(), nullable=True),
        sa.Column("circuit_state", sa.String(), server_default="closed", nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("circuit_opened_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("next_probe_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("probe_interval_seconds", sa.Float(), nullable=True),
        sa.Column("last_failure", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
    )
    with op.batch_alter_table("exports") as batch:
        batch.add_column(sa.Column("cancel_requested_by", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.drop_column("cancel_requested_by")
    op.drop_table("export_responses_system_controls")
