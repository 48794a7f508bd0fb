"""SQLite's accepting unit: an accepted command's writes on the thread's own driver connection.

SQLite has one writer at a time, so what an accepted command does while it holds the
writers' lock bounds how many the service accepts a second. Through a SQLAlchemy unit
that was the checkout, the begin hook, each statement's execution context, the commit,
the reset and return to the pool: Python in the lock, beside the database's own work.
Here the command's values are made ready first; then the lock, BEGIN IMMEDIATE, the
three statements (the log row, the exports, their events) on the cursor that the
thread's reading unit keeps (reading.py), COMMIT, and the lock is let go at once.

While anything listens to the engine's statements (the tests that count them, the
benchmark's capture), on PostgreSQL (one statement already, in autocommit) and for a
database in memory, the unit is a SQLAlchemy unit of work instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql.engine import LockWaitTimeout, WriterQueue, writer_queue
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
        writers = writer_queue(self.engine)
        reader = None
        if writers is not None and not self.engine.dispatch.before_cursor_execute:
            reader = self.connections.take()
        if reader is None:
            self._delegate: SqlAlchemyUnitOfWork | None = SqlAlchemyUnitOfWork(self.engine).__enter__()
            return self._delegate
        self._delegate = None
        self._reader = reader
        self._log = _DriverCommandLog(reader.kept_cursor, self.engine.dialect, writers)
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
    def __init__(self, cursor: Any, dialect: sa.Dialect, writers: WriterQueue):
        self.cursor = cursor
        self.dialect = dialect
        self.writers = writers
        self.writing = False

    def accept(self, command: LoggedCommand, system_id: int, response_ids: Collection[int], now: datetime) -> None:
        given = accept_parameters(command, system_id, response_ids, now)
        statements = [(c.sql, c.parameters(given)) for c in (s.compiled(self.dialect) for s in ACCEPT["sqlite"])]
        self.writers.acquire()  # LockWaitTimeout past the wait: an outage, as on the SQLAlchemy path
        self.writing = True
        self._send("BEGIN IMMEDIATE", ())
        for sql, values in statements:
            self._send(sql, values)

    def end(self, commit: bool) -> None:
        """COMMIT what `accept` began (or roll it back), and let the writers' lock go."""
        if not self.writing:
            return
        try:
            if commit:
                self._send("COMMIT", ())
        finally:
            try:
                if self.cursor.connection.in_transaction:  # not committed, or a failed commit's
                    self._send("ROLLBACK", ())
            finally:
                self.writing = False
                self.writers.release()

    def _send(self, sql: str, values: Any) -> None:
        try:
            self.cursor.execute(sql, values)
        except sqlite3.Error as error:
            raise sa.exc.DBAPIError.instance(sql, values, error, sqlite3.Error, dialect=self.dialect) from error
