"""The accepting unit: an accepted command's writes on the thread's own driver connection.

What an accepted command does past the database's own work is Python per command: through
a SQLAlchemy unit, the checkout, the begin hook, each statement's execution context, the
commit, the reset and return to the pool. On SQLite, which has one writer at a time, it
is done while holding the writers' lock, so it bounds how many the service accepts a
second. Here the command's values are made ready first, then sent on the cursor that
the thread's reading unit keeps (reading.py): on SQLite the lock, BEGIN IMMEDIATE, the
three statements (the log row, the exports, their events), COMMIT, and the lock let go
at once; on PostgreSQL the one statement that writes all three, in autocommit (its own
transaction, as the SQLAlchemy unit sends it, one round trip).

While anything listens to the engine's statements (the tests that count them, the
benchmark's capture), for a database in memory and behind a transaction pooler (where
each transaction sets the session's settings first), the unit is a SQLAlchemy one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql.engine import LockWaitTimeout, WriterQueue, settings_at_connect, writer_queue
from adapters.sql.errors import translate
from adapters.sql.reading import ReadingConnections
from adapters.sql.repositories import ACCEPT, accept_parameters
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import CommandLog, LoggedCommand, UnitOfWork


class DriverAcceptingUnit(UnitOfWork):
    """A unit of work with one repository, `commands`, for the accepting use case."""

    commands: CommandLog

    def __init__(self, engine: sa.Engine, connections: ReadingConnections):
        self.engine = engine
        self.connections = connections

    def __enter__(self) -> UnitOfWork:
        dialect = self.engine.dialect
        writers = writer_queue(self.engine)
        on_the_driver = writers is not None if dialect.name == "sqlite" else settings_at_connect(self.engine)
        reader = None
        if on_the_driver and not self.engine.dispatch.before_cursor_execute:
            reader = self.connections.take()
        if reader is None:
            self._delegate: SqlAlchemyUnitOfWork | None = SqlAlchemyUnitOfWork(self.engine).__enter__()
            return self._delegate
        self._delegate = None
        self._reader = reader
        self._log = _DriverCommandLog(reader, dialect, writers)
        self.commands = self._log
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._delegate is not None:
            self._delegate.__exit__(exc_type, exc, traceback)
            return
        # A twin's unique key or a lock not had in time leaves the connection as it was:
        # it is closed (and another opened) only after other failures.
        failed = exc is not None and not isinstance(exc, sa.exc.IntegrityError | LockWaitTimeout)
        try:
            self._log.end(commit=False)
        except sa.exc.DBAPIError:
            failed = True  # the connection is not to be trusted again: closed as it is given back
        finally:
            self.connections.give_back(self._reader, failed=failed)
        translated = translate(exc)
        if translated is not None:
            raise translated from exc

    def commit(self) -> None:
        self._log.end(commit=True)

    def rollback(self) -> None:
        self._log.end(commit=False)


class _DriverCommandLog(CommandLog):
    """On SQLite the statements run in a transaction between the writers' lock and
    `end`; on PostgreSQL (no `writers`) the one statement is its own, committed as sent."""

    def __init__(self, reader: Any, dialect: sa.Dialect, writers: WriterQueue | None):
        self.reader = reader
        self.dialect = dialect
        self.writers = writers
        self.writing = False

    def accept(self, command: LoggedCommand, system_id: int, response_ids: Collection[int], now: datetime) -> None:
        given = accept_parameters(command, system_id, response_ids, now)
        statements = [
            (c.sql, c.parameters(given)) for c in (s.compiled(self.dialect) for s in ACCEPT[self.dialect.name])
        ]
        if self.writers is None:
            for sql, values in statements:
                self._send(sql, values)
            return
        self.writers.acquire()  # LockWaitTimeout past the wait: an outage, as on the SQLAlchemy path
        self.writing = True
        self._send("BEGIN IMMEDIATE", ())
        for sql, values in statements:
            self._send(sql, values)

    def end(self, commit: bool) -> None:
        """COMMIT what `accept` began on SQLite (or roll it back), and let the writers' lock go."""
        if not self.writing or self.writers is None:
            return
        try:
            if commit:
                self._send("COMMIT", ())
        finally:
            try:
                if self.reader.dbapi_connection.in_transaction:  # not committed, or a failed commit's
                    self._send("ROLLBACK", ())
            finally:
                self.writing = False
                self.writers.release()

    def _send(self, sql: str, values: Any) -> None:
        cursor = self.reader.kept_cursor
        driver_error = self.dialect.loaded_dbapi.Error
        try:
            cursor.execute(sql, values)
        except driver_error as error:
            lost = self.dialect.is_disconnect(error, self.reader.dbapi_connection, cursor)
            if lost:
                self.reader.invalidate(error)
            raise sa.exc.DBAPIError.instance(
                sql, values, error, driver_error, connection_invalidated=lost, dialect=self.dialect
            ) from error
