"""The accepting path's reading unit: its one statement on the thread's driver connection.

Every command sent to the API, rejected, replayed or accepted, first reads its facts in
one statement. Through a SQLAlchemy Connection that read cost more Python than the
database's own work: on SQLite about 140 µs in process against 27 µs for the same
statement on the driver (the Connection, its execution options and transaction, the
execution context, the Result, the return to the pool). Here the unit sends the
statement alone (autocommit, as the SQLAlchemy reading unit does) on a driver connection
of its thread's own (`ReadingConnections`), with the cursor it keeps.

While anything listens to the engine's statements (the tests that count them, the
benchmark's capture of an accepted command), the unit sends the very same statement
through a SQLAlchemy reading unit instead, so that they see it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql.engine import server_gone, sqlite_file
from adapters.sql.errors import translate, translating
from adapters.sql.repositories import DriverCommandFacts
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import CommandFacts, UnitOfWork


class ReadingConnections:
    """Each thread's own driver connection for the reading units, kept from one unit to the next.

    A checkout from the pool and the return to it cost more Python than the read itself
    (8 % of a rejected command's instructions through the app, on SQLite); a thread's
    own connection, detached from the pool once opened (its connect hooks ran: the
    pragmas), costs none of it. So there is one more connection per serving thread
    than the pool holds. It is checked as the pool checks its own: on PostgreSQL, one
    whose server has gone is replaced, without a round trip. One whose unit failed is
    closed and the thread's next unit opens another; a thread's ends with the thread.
    One opened before a fork is the parent's: kept, neither used nor closed (closing it
    in the child would end the parent's session or its SQLite locks). On PostgreSQL it
    stays in autocommit, each read its own transaction. `close()` closes them (those in
    use as their unit ends); units then use the pool. A SQLite database in memory is a
    connection's own: there, units use the pool alone.
    """

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.RLock()  # reentrant: a thread's end may come while it holds it
        self._idle: set[_Reader] = set()
        self._parents: list[_Reader] = []  # a forked child's references to the parent's
        self._closed = engine.dialect.name == "sqlite" and sqlite_file(engine.url) is None

    def take(self) -> _Reader | None:
        """This thread's connection, opened if need be; None once closed, or while a unit
        of this thread has it (a unit inside another then uses the pool)."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is not None and reader.pid != os.getpid():
            self._forget(reader)  # opened before a fork: the parent's
            reader = None
        with self._lock:
            if self._closed or (reader is not None and reader not in self._idle):
                return None
            if reader is not None:
                self._idle.discard(reader)  # in use: a close() meanwhile closes it as it is given back
        if reader is not None:
            if reader.alive():
                return reader
            self._forget(reader)
        reader = self._local.reader = _Reader(_detached(self.engine), self.engine.dialect)
        # The thread's local values go when it ends: so does its connection.
        self._local.ending = _ThreadEnd()
        weakref.finalize(self._local.ending, self._retire, reader)
        return reader

    def give_back(self, reader: _Reader, failed: bool) -> None:
        with self._lock:
            keep = not failed and not self._closed
            if keep:
                self._idle.add(reader)
        if not keep:
            self._forget(reader)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, set()
        for reader in idle:
            self._close(reader)

    def _forget(self, reader: _Reader) -> None:
        self._local.reader = None
        self._retire(reader)

    def _retire(self, reader: _Reader) -> None:
        with self._lock:
            self._idle.discard(reader)
        self._close(reader)

    def _close(self, reader: _Reader) -> None:
        if reader.pid == os.getpid():
            reader.close()
        else:
            with self._lock:
                self._parents.append(reader)


class _ThreadEnd:
    """Lives in a thread's local values only: finalized when the thread ends."""


class _Reader:
    """A thread's driver connection, with the face of a pooled one that
    `DriverStatement.one_on_driver` uses, and the cursor it keeps."""

    def __init__(self, connection: Any, dialect: sa.Dialect):
        self.dbapi_connection = self.driver_connection = connection
        self.pid = os.getpid()
        self._driver_error = dialect.loaded_dbapi.Error
        self._postgresql = dialect.name == "postgresql"
        if self._postgresql:
            connection.autocommit = True
        self.kept_cursor = connection.cursor()

    def cursor(self) -> Any:
        return self.dbapi_connection.cursor()

    def invalidate(self, error: BaseException | None = None) -> None:
        """The connection is lost: closed now (its unit's end forgets it)."""
        self.close()

    def alive(self) -> bool:
        return not self._postgresql or server_gone(self.dbapi_connection, self._driver_error) is None

    def close(self) -> None:
        # Detached: the pool has forgotten it, so it is closed here, on the driver.
        with contextlib.suppress(Exception):  # a broken connection may fail to close: nothing is left
            self.dbapi_connection.close()


def _detached(engine: sa.Engine) -> Any:
    """A new driver connection from the engine's pool (its connect hooks run), which forgets it."""
    with translating():
        pooled = _checked_out(engine)
    connection = pooled.dbapi_connection
    pooled.detach()
    return connection


def _checked_out(engine: sa.Engine) -> Any:
    dialect = engine.dialect
    try:
        return engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:  # the pool raises the driver's own, unwrapped
        raise sa.exc.DBAPIError.instance(None, None, error, dialect.loaded_dbapi.Error, dialect=dialect) from error


class DriverReadingUnit(UnitOfWork):
    """A unit of work with one repository, `facts`, that only reads; it never commits.

    On `connections` (the engine's shared ones), else on a connection from the pool."""

    facts: CommandFacts

    def __init__(self, engine: sa.Engine, connections: ReadingConnections | None = None):
        self.engine = engine
        self.connections = connections

    def __enter__(self) -> DriverReadingUnit:
        self._watched: SqlAlchemyUnitOfWork | None = None
        self._reader: _Reader | None = None
        if self.engine.dispatch.before_cursor_execute:
            self._watched = SqlAlchemyUnitOfWork(self.engine, read_only=True).__enter__()
            self.facts = self._watched.facts
            return self
        dialect = self.engine.dialect
        if self.connections is not None:
            self._reader = self.connections.take()
        if self._reader is not None:
            self.facts = DriverCommandFacts(self._reader, dialect, self._reader.kept_cursor)
            return self
        with translating():
            self.pooled = _checked_out(self.engine)
        self.facts = DriverCommandFacts(self.pooled, dialect)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._watched is not None:
            self._watched.__exit__(exc_type, exc, traceback)
            return
        if self._reader is not None and self.connections is not None:
            self.connections.give_back(self._reader, failed=exc is not None)
        else:
            self.pooled.close()  # back to the pool (or discarded, if invalidated)
        translated = translate(exc)
        if translated is not None:
            raise translated from exc

    def commit(self) -> None:
        raise RuntimeError("a reading unit of work cannot commit")

    def rollback(self) -> None:
        """Nothing to roll back: its one statement was a transaction of its own."""
