"""What the health probes ask of the database: does it answer, and does it take a write."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql.tables import health_checks
from application.ports import DatabaseHealth

_WRITE = sa.text(
    f"INSERT INTO {health_checks.name} (id, checked_at) VALUES (1, :now) "
    "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"
).bindparams(sa.bindparam("now", type_=health_checks.c.checked_at.type))


class SqlAlchemyHealth(DatabaseHealth):
    """Probes on `engine`; each says False rather than raise when the database fails."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def answers(self) -> bool:
        try:
            with self.engine.connect().execution_options(read_only=True) as connection:
                connection.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def accepts_writes(self) -> bool:
        """Whether a durable write commits now: False on a full disk, a read-only file or
        database, a lock not had within the lock wait, or no answer at all."""
        try:
            with self.engine.begin() as connection:
                connection.execute(_WRITE, {"now": dt.datetime.now(dt.UTC)})
            return True
        except sa.exc.SQLAlchemyError:
            return False
