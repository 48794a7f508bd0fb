"""Each external system's throttle after CCD's 429s: a pause and a pace the workers share.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = ("throttled_until", "throttle_rate", "throttle_cut_at", "next_call_at")


def upgrade() -> None:
    # The service's own table only: the Rails tables are left as they are. Timestamps
    # without time zone, holding UTC, as in 0007.
    with op.batch_alter_table("export_responses_system_controls") as batch:
        batch.add_column(sa.Column("throttled_until", sa.DateTime(timezone=False), nullable=True))
        batch.add_column(sa.Column("throttle_rate", sa.Float(), nullable=True))
        batch.add_column(sa.Column("throttle_cut_at", sa.DateTime(timezone=False), nullable=True))
        batch.add_column(sa.Column("next_call_at", sa.DateTime(timezone=False), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_responses_system_controls") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
