"""The accepting unit: an accepted command's writes on the thread's own driver connection.

What an accepted command does past the database's own work is Python per command: through
a SQLAlchemy unit, the checkout, the begin hook, each statement's execution context, the
commit, the reset and return to the pool. On SQLite, which has one writer at a time, it
is done while holding the writers' lock, so it bounds how many the service accepts a
second. Here the command's values are made ready first, then sent on the cursor that
the thread's reading unit keeps (reading.py). On SQLite, at commit, with the commands
of the process's other threads that commit meanwhile: the lock, BEGIN IMMEDIATE, each
one's three statements (the log row, the exports, their events), one COMMIT, and the
lock let go at once. On PostgreSQL the one statement that writes all three, in
autocommit (its own transaction, as the SQLAlchemy unit sends it, one round trip).

While anything listens to the engine's statements (the tests that count them, the
benchmark's capture), for a database in memory and behind a transaction pooler (where
each transaction sets the session's settings first), the unit is a SQLAlchemy one.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.group_commit import GroupCommit
from adapters.sql.driver_sql import driver_error
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
        commits = _sqlite_commits(self.engine, writers) if writers is not None else None
        self._log = _DriverCommandLog(reader, dialect, commits)
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
    """On PostgreSQL (no `commits`) the one statement is its own transaction, committed
    as sent; on SQLite the statements are sent at `end`, with those of the process's
    other threads that commit meanwhile (`_SqliteCommits`)."""

    def __init__(self, reader: Any, dialect: sa.Dialect, commits: _SqliteCommits | None):
        self.reader = reader
        self.dialect = dialect
        self.commits = commits
        self.prepared: list[tuple[str, Any]] | None = None

    def accept(self, command: LoggedCommand, system_id: int, response_ids: Collection[int], now: datetime) -> None:
        given = accept_parameters(command, system_id, response_ids, now)
        statements = [
            (c.sql, c.parameters(given)) for c in (s.compiled(self.dialect) for s in ACCEPT[self.dialect.name])
        ]
        if self.commits is None:
            for sql, values in statements:
                _send(self.reader, self.dialect, sql, values)
            return
        self.prepared = statements

    def end(self, commit: bool) -> None:
        """On SQLite, commit what `accept` prepared, or forget it (nothing was sent)."""
        prepared, self.prepared = self.prepared, None
        if commit and prepared is not None and self.commits is not None:
            self.commits.commit(self.reader, prepared)


class _SqliteCommits:
    """The accepted commands of a process's threads that commit together, written in one
    transaction: one turn of the writers' lock and one flushed commit for all of them.

    The leading thread (adapters/group_commit.py) sends them on its own connection: the
    lock, BEGIN IMMEDIATE, each command's three statements, COMMIT, the lock let go.
    When the group fails (a twin's unique key), each command is written alone, so that
    the failure is its own command's only; a lock not had in time is every one's.
    """

    def __init__(self, writers: WriterQueue, dialect: sa.Dialect):
        self.writers = writers
        self.dialect = dialect
        self._leader = threading.local()
        self._group: GroupCommit[list[tuple[str, Any]], None] = GroupCommit(
            self._commit_all, most=_MOST_IN_A_COMMIT, shared=(LockWaitTimeout,)
        )

    def commit(self, reader: Any, statements: list[tuple[str, Any]]) -> None:
        self._leader.reader = reader  # the connection this thread sends the group on, if it leads
        self._group.record(statements)

    def _commit_all(self, commands: Sequence[list[tuple[str, Any]]]) -> list[None]:
        reader = self._leader.reader
        self.writers.acquire()  # LockWaitTimeout past the wait: an outage, as on the SQLAlchemy path
        try:
            try:
                _send(reader, self.dialect, "BEGIN IMMEDIATE", ())
                for statements in commands:
                    for sql, values in statements:
                        _send(reader, self.dialect, sql, values)
                _send(reader, self.dialect, "COMMIT", ())
            finally:
                if reader.dbapi_connection.in_transaction:  # not committed, or a failed commit's
                    _send(reader, self.dialect, "ROLLBACK", ())
        finally:
            self.writers.release()
        return [None] * len(commands)


_MOST_IN_A_COMMIT = 16
_COMMITS: weakref.WeakKeyDictionary[sa.Engine, _SqliteCommits] = weakref.WeakKeyDictionary()
_COMMITS_MADE = threading.Lock()


def _sqlite_commits(engine: sa.Engine, writers: WriterQueue) -> _SqliteCommits:
    with _COMMITS_MADE:
        commits = _COMMITS.get(engine)
        if commits is None:
            commits = _COMMITS[engine] = _SqliteCommits(writers, engine.dialect)
        return commits


def _send(reader: Any, dialect: sa.Dialect, sql: str, values: Any) -> None:
    try:
        reader.kept_cursor.execute(sql, values)
    except dialect.loaded_dbapi.Error as error:
        raise driver_error(error, reader, reader.kept_cursor, dialect, sql, values) from error
