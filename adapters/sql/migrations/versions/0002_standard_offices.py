"""Reference data: the standard tribunal offices.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OFFICES = {
    13: "Midlands West", 14: "Bristol", 16: "Wales", 18: "Leeds", 22: "London Central",
    23: "London South", 24: "Manchester", 25: "Newcastle", 26: "Midlands East",
    32: "London East", 33: "Watford", 41: "Glasgow", 60: "England And Wales (Reform)",
    80: "Scotland (Reform)", 99: "Default",
}  # fmt: skip

offices = sa.table(
    "offices",
    sa.column("code", sa.Integer),
    sa.column("name", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    # The original database already holds these offices: add only the missing ones.
    present = {code for (code,) in op.get_bind().execute(sa.select(offices.c.code))}
    now = datetime.now(timezone.utc)
    rows = [
        {"code": code, "name": name, "created_at": now, "updated_at": now}
        for code, name in OFFICES.items()
        if code not in present
    ]
    if rows:
        op.bulk_insert(offices, rows)


def downgrade() -> None:
    op.execute(offices.delete().where(offices.c.code.in_(list(OFFICES))))
