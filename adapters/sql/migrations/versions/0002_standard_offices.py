"""Reference data: the standard tribunal offices.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from adapters.sql.migrations.adoption import adopting

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OFFICES = {
    13: "Midlands West",
    14: "Bristol",
    16: "Wales",
    18: "Leeds",
    22: "London Central",
    23: "London South",
    24: "Manchester",
    25: "Newcastle",
    26: "Midlands East",
    32: "London East",
    33: "Watford",
    41: "Glasgow",
    60: "England And Wales (Reform)",
    80: "Scotland (Reform)",
    99: "Default",
}

offices = sa.table(
    "offices",
    sa.column("code", sa.Integer),
    sa.column("name", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    if adopting():  # the original's own tables stand in for these (see adoption.py)
        return
    # Only the missing ones, in plain SQL (no read first), so that `migrate --dry-run` can print it.
    now = datetime.now(UTC)
    for code, name in OFFICES.items():
        present = sa.exists().where(offices.c.code == code)
        row = sa.select(
            sa.literal(code),
            sa.literal(name),
            sa.literal(now, offices.c.created_at.type),
            sa.literal(now, offices.c.updated_at.type),
        ).where(~present)
        op.execute(offices.insert().from_select(["code", "name", "created_at", "updated_at"], row))


def downgrade() -> None:
    op.execute(offices.delete().where(offices.c.code.in_(list(OFFICES))))
