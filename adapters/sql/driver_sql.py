"""Hot statements compiled once per dialect and sent with `Connection.exec_driver_sql`.

SQLAlchemy's `execute()` of a Core statement costs, per call, the cache lookup, a new
execution context, each parameter's processing and each result column's: on SQLite more
Python than the statement's own work in the database. Here the statement is compiled
once, its parameters are processed by the very bind processors SQLAlchemy would use
(so values are stored exactly as `execute()` stores them), and it goes to the driver as
text. The engine's events still see it: `before_cursor_execute` and the begin hooks
(engine.py) run as for any statement.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
import sqlalchemy as sa
import sqlalchemy.exc


class DriverStatement:
    """One Core statement, compiled the first time it runs on a dialect."""

    def __init__(self, statement: sa.Executable):
        self.statement = statement
        # By the dialect's class and paramstyle: what the compiled text depends on.
        self._compiled: dict[tuple[type, str], _Compiled] = {}

    def execute(self, connection: sa.Connection, parameters: Mapping[str, Any]) -> sa.CursorResult:
        compiled = self.compiled(connection.dialect)
        return connection.exec_driver_sql(compiled.sql, compiled.parameters(parameters))

    def one_on_driver(
        self, pooled: Any, dialect: sa.Dialect, parameters: Mapping[str, Any], kept_cursor: Any = None
    ) -> tuple:
        """The statement's one row, run on a pooled driver connection (`Engine.raw_connection`)
        as a statement alone (autocommit): no Connection, no execution context, no Result,
        no engine events. On `kept_cursor`, the caller's, if given; else on a new cursor.
        A driver error is raised as SQLAlchemy's DBAPIError, the connection invalidated
        (dropped by the pool) when the error says it is lost."""
        compiled = self.compiled(dialect)
        values = compiled.parameters(parameters)
        driver = pooled.driver_connection
        cursor = kept_cursor
        alone = dialect.name == "postgresql" and not driver.autocommit and _idle(driver)
        try:
            if alone:
                driver.autocommit = True
            if cursor is None:
                cursor = pooled.cursor()
            try:
                cursor.execute(compiled.sql, values)
                (row,) = cursor.fetchall()
            finally:
                if kept_cursor is None:
                    cursor.close()
        except dialect.loaded_dbapi.Error as error:
            raise driver_error(error, pooled, cursor, dialect, compiled.sql, values) from error
        finally:
            if alone and _idle(driver):
                driver.autocommit = False
        return tuple(row)

    def compiled(self, dialect: sa.Dialect) -> _Compiled:
        key = (type(dialect), dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, dialect)
        return compiled


class _Compiled:
    def __init__(self, statement: sa.Executable, dialect: sa.Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self.processors = processors
        # The values the statement carries itself (literals, pg_notify's channel), processed once.
        self.fixed = {
            name: processors[name](bind.effective_value) if name in processors else bind.effective_value
            for name, bind in compiled.binds.items()
            if not bind.required
        }
        # qmark (SQLite) takes a tuple in the order of the placeholders; pyformat
        # (psycopg) a dict by name.
        self.order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None

    def parameters(self, given: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        processors = self.processors
        values = {name: processors[name](value) if name in processors else value for name, value in given.items()}
        values.update(self.fixed)
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


def driver_error(
    error: Exception, pooled: Any, cursor: Any, dialect: sa.Dialect, sql: str, values: Any
) -> sa.exc.DBAPIError:
    """The driver's `error` on `pooled` as SQLAlchemy's DBAPIError, as its Connection
    raises it: the connection invalidated (dropped) when the error says it is lost."""
    lost = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
    if lost:
        pooled.invalidate(error)
    return sa.exc.DBAPIError.instance(
        sql, values, error, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


@contextlib.contextmanager
def on_its_own(connection: sa.Connection, alone: bool = True) -> Iterator[None]:
    """On PostgreSQL, the one statement sent in the block is its own transaction when the
    unit has sent nothing yet (`alone`): no BEGIN and no COMMIT, two round trips fewer.

    psycopg sends BEGIN before a connection's first statement unless it is in
    autocommit; SQLAlchemy's begin sends nothing there, and its commit and rollback find
    no transaction open at the server afterwards, so send nothing either. When the unit
    has begun at the server (behind a transaction pooler each transaction first sets its
    session settings), or several statements must commit together (SQLite's accepted
    command), the block runs in the unit's transaction as any other.
    """
    driver = connection.connection.driver_connection
    if not alone or connection.dialect.name != "postgresql" or driver.autocommit or not _idle(driver):
        yield
        return
    driver.autocommit = True
    try:
        yield
    finally:
        if _idle(driver):  # else the connection is lost, and SQLAlchemy discards it
            driver.autocommit = False


def _idle(driver) -> bool:
    return not driver.closed and driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
