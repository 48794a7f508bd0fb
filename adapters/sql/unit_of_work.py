"""The SQLAlchemy unit of work: one connection, one transaction, rolled back unless committed.

It works on a Core Connection, not an ORM Session: the repositories write rows, not
mapped objects, and a Session's bookkeeping cost more than the queries themselves.
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql import circuits, operations, queue, repositories, throttles
from adapters.sql.driver_sql import on_its_own
from adapters.sql.errors import translate, translating
from application.ports import UnitOfWork


class SqlAlchemyUnitOfWork(UnitOfWork):
    """`read_only` units never commit, open no transaction, and take no write lock.

    A reading unit decides nothing that a writing one does not check again under the
    database's unique keys, and the use cases read in it with one statement (which sees
    one snapshot). No transaction saves BEGIN and ROLLBACK: two round trips on
    PostgreSQL; on SQLite about 25 of the 300 µs a rejected command takes in process.
    Each statement is its own transaction: on SQLite as pysqlite runs it (engine.py keeps
    its isolation_level at None and begins transactions itself, which `statements_alone`
    skips); on PostgreSQL the driver's connection is in autocommit for the unit
    (driver_sql.on_its_own), set on it directly: SQLAlchemy's AUTOCOMMIT isolation level
    would be set on every checkout and reset on every return, more Python than the query.
    """

    def __init__(self, engine: sa.Engine, read_only: bool = False):
        self.engine = engine
        self.read_only = read_only

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self._alone = contextlib.ExitStack()
        with translating():
            self.connection = self.engine.connect()
            if self.read_only:
                self.connection = self.connection.execution_options(read_only=True, statements_alone=True)
                self._alone.enter_context(on_its_own(self.connection))
            self.transaction = self.connection.begin()
        self.facts = repositories.SqlAlchemyCommandFacts(self.connection)
        self.exports = repositories.SqlAlchemyExportRepository(self.connection)
        self.commands = repositories.SqlAlchemyCommandLog(self.connection)
        self.queue = queue.SqlAlchemyExportQueue(self.connection)
        self.circuits = circuits.SqlAlchemyCircuitBreakers(self.connection)
        self.throttles = throttles.SqlAlchemySystemThrottles(self.connection)
        self.offices = queue.SqlAlchemyOfficeRepository(self.connection)
        self.actions = operations.SqlAlchemyExportActions(self.connection)
        self.controls = operations.SqlAlchemySystemControls(self.connection)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self.rollback()
        except sa.exc.DBAPIError as error:
            # A connection that died took its transaction with it: nothing is left to roll
            # back, and what the unit read or decided stands. If the unit itself failed,
            # its own error is the one to report.
            if exc is None and not error.connection_invalidated:
                raise translate(error) or error from error
        finally:
            try:
                self._alone.close()
            finally:
                self.connection.close()
        translated = translate(exc)
        if translated is not None:
            raise translated from exc

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        with translating():
            self.transaction.commit()

    def rollback(self) -> None:
        if self.transaction.is_active:
            self.transaction.rollback()
