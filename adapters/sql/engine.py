"""Engines for the two supported databases, configured for safe concurrent writes."""

from __future__ import annotations

import fcntl
import os
import select
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.sql.pooling import Pooling, connect_arguments

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Without a connect timeout, a database that accepts connections but never answers
# (hung, failing over, behind a firewall that drops packets) holds each request until
# gunicorn kills its worker, and the worker's loop forever.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


def create_engine(url: str, pooling: Pooling = Pooling.SESSION, **options) -> sa.Engine:
    """An engine for `url`; on SQLite the file's folder is created on first use.

    `pooling` says what sits between the service and PostgreSQL (see pooling.py);
    a URL parameter that cannot work raises ValueError, before any connection.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(parsed, pooling, options)
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(f"not a PostgreSQL or SQLite URL: {parsed.render_as_string(hide_password=True)}")
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **options)
    writers = WriterQueue(Path(f"{parsed.database}-writer.lock")) if parsed.database not in (None, "", ":memory:") else None
    _serialize_sqlite_writes(engine, writers)
    return engine


def _postgres_engine(url: sa.URL, pooling: Pooling, options: dict) -> sa.Engine:
    url, arguments = connect_arguments(url, pooling)
    if "connect_timeout" not in url.query:
        arguments["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_SECONDS
    options["connect_args"] = {**arguments, **options.get("connect_args", {})}
    engine = sa.create_engine(url, **options)
    _drop_connections_the_server_closed(engine)
    return engine


def _drop_connections_the_server_closed(engine: sa.Engine) -> None:
    """Replace, on checkout, a pooled connection whose server has gone.

    A server that stops or restarts, or that ends the session, writes a last message and
    closes the socket: an idle connection with anything to read is dead. Asking the
    kernel costs no round trip, where SQLAlchemy's `pool_pre_ping` sends a query on
    every checkout: one more round trip per unit of work, a third of a replay's.
    Raising DisconnectionError makes the pool discard the connection and open another.
    """

    driver_error = engine.dialect.loaded_dbapi.Error

    @sa.event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, _record, _proxy):
        try:
            readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
        except (OSError, ValueError, driver_error) as error:
            raise sa.exc.DisconnectionError(f"the connection is closed: {error}") from error
        if readable:
            raise sa.exc.DisconnectionError("the server closed the connection")


class WriterQueue:
    """SQLite's writers, one at a time, waiting in line in the kernel.

    SQLite lets one writer in and makes the others retry in its busy handler, which
    sleeps for growing intervals (1, 2, 5, 10... ms) however soon the lock is free:
    under load, writers mostly sleep. Here a writer first takes a lock of this
    process's threads, then an flock() on a file beside the database, which the
    kernel hands to the next process the moment it is released (or its holder dies).
    """

    def __init__(self, path: Path):
        self.path = path
        # Reentrant, so that a thread opening a second writing connection meets
        # SQLite's busy timeout, as it would without this queue, rather than hanging.
        self._threads = threading.RLock()
        self._depth = 0
        self._descriptor: int | None = None
        self._owner_pid: int | None = None

    def acquire(self) -> None:
        self._threads.acquire()
        self._depth += 1
        if self._depth > 1:
            return
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._depth -= 1
            self._threads.release()
            raise

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # A descriptor opened before a fork would share its lock with the parent.
        if self._descriptor is None or self._owner_pid != os.getpid():
            self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._owner_pid = os.getpid()
        return self._descriptor


def _serialize_sqlite_writes(engine: sa.Engine, writers: WriterQueue | None) -> None:
    # pysqlite's own transaction handling starts transactions late and as readers, so a
    # read-then-write transaction can fail to upgrade its lock. We begin them ourselves:
    # IMMEDIATE takes the write lock up front (others wait on busy_timeout), and WAL
    # lets readers go on meanwhile. This is SQLAlchemy's documented recipe.
    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL",
                       f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"):  # fmt: skip
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT" or options.get("statements_alone", False):
            return  # each statement its own transaction (pysqlite's isolation_level is None)
        if options.get("read_only", False):
            connection.exec_driver_sql("BEGIN")
            return
        info = connection.connection.info  # the pooled connection's, as `record.info` below
        if writers is not None and not info.get("writing"):
            writers.acquire()
            info["writing"] = True
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    if writers is None:
        return

    # The line moves on when the connection goes back to the pool: by then its
    # transaction has committed or rolled back, whatever path the code took.
    @sa.event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection, record):
        if record.info.pop("writing", False):
            writers.release()

    @sa.event.listens_for(engine, "close")
    def on_close(_dbapi_connection, record):
        if record.info.pop("writing", False):
            writers.release()
