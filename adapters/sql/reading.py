"""The accepting path's reading unit: its one statement on a pooled driver connection.

Every command sent to the API, rejected, replayed or accepted, first reads its facts in
one statement. Through a SQLAlchemy Connection that read cost more Python than the
database's own work: on SQLite about 140 µs in process against 27 µs for the same
statement on the driver (the Connection, its execution options and transaction, the
execution context, the Result, the return to the pool). Here the unit checks a driver
connection out of the engine's pool (its connect and checkout hooks still run: the
pragmas, the dead-connection check), sends the statement alone (autocommit, as the
SQLAlchemy reading unit does), and gives the connection back.

While anything listens to the engine's statements (the tests that count them, the
benchmark's capture of an accepted command), the unit sends the very same statement
through a SQLAlchemy reading unit instead, so that they see it.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql.errors import translate, translating
from adapters.sql.repositories import DriverCommandFacts
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import CommandFacts, UnitOfWork


class DriverReadingUnit(UnitOfWork):
    """A unit of work with one repository, `facts`, that only reads; it never commits."""

    facts: CommandFacts

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def __enter__(self) -> DriverReadingUnit:
        self._watched: SqlAlchemyUnitOfWork | None = None
        if self.engine.dispatch.before_cursor_execute:
            self._watched = SqlAlchemyUnitOfWork(self.engine, read_only=True).__enter__()
            self.facts = self._watched.facts
            return self
        dialect = self.engine.dialect
        with translating():
            try:
                self.pooled = self.engine.raw_connection()
            except dialect.loaded_dbapi.Error as error:  # the pool raises the driver's own, unwrapped
                raise sa.exc.DBAPIError.instance(
                    None, None, error, dialect.loaded_dbapi.Error, dialect=dialect
                ) from error
        self.facts = DriverCommandFacts(self.pooled, self.engine.dialect)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._watched is not None:
            self._watched.__exit__(exc_type, exc, traceback)
            return
        self.pooled.close()  # back to the pool (or discarded, if invalidated)
        translated = translate(exc)
        if translated is not None:
            raise translated from exc

    def commit(self) -> None:
        raise RuntimeError("a reading unit of work cannot commit")

    def rollback(self) -> None:
        """Nothing to roll back: its one statement was a transaction of its own."""
