"""Engines for the two supported databases, configured for safe concurrent writes."""

from __future__ import annotations

import select
import sqlite3
import threading
import time
import weakref
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.sql.file_lock import FileLock
from adapters.sql.pooling import Pooling, connect_arguments

# Every wait on the database is bounded: a lock held by a stopped process, a hung
# server or a runaway statement must cost a request a few seconds and a 503, never
# its thread for good. Both are settings (LOCK_WAIT_SECONDS, STATEMENT_TIMEOUT_SECONDS).
DEFAULT_LOCK_WAIT_SECONDS = 5.0
DEFAULT_STATEMENT_TIMEOUT_SECONDS = 20.0
# A transaction left open by a client that stopped mid-way (a paused or dying process)
# would hold its locks for every other writer until then.
POSTGRES_IDLE_IN_TRANSACTION_SECONDS = 60
# Without a connect timeout, a database that accepts connections but never answers
# (hung, failing over, behind a firewall that drops packets) holds each request until
# gunicorn kills its worker, and the worker's loop forever.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


def create_engine(
    url: str,
    pooling: Pooling = Pooling.SESSION,
    *,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    statement_timeout_seconds: float = DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    **options,
) -> sa.Engine:
    """An engine for `url` with durable commits and bounded waits.

    On SQLite the file's folder is created on first use. On PostgreSQL each session
    commits synchronously and gives up on a lock after `lock_wait_seconds` and on a
    statement after `statement_timeout_seconds`. `pooling` says what sits between the
    service and PostgreSQL (see pooling.py); a URL parameter that cannot work raises
    ValueError, before any connection.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        session = _postgres_session_settings(lock_wait_seconds, statement_timeout_seconds)
        return _postgres_engine(parsed, pooling, session, options)
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(f"not a PostgreSQL or SQLite URL: {parsed.render_as_string(hide_password=True)}")
    database = sqlite_file(parsed)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **options)
    writers = WriterQueue(Path(f"{database}-writer.lock"), lock_wait_seconds) if database is not None else None
    if writers is not None:
        _WRITERS[engine] = writers
    _serialize_sqlite_writes(engine, writers, lock_wait_seconds)
    return engine


# The writers' line of each SQLite file's engine.
_WRITERS: weakref.WeakKeyDictionary[sa.Engine, WriterQueue] = weakref.WeakKeyDictionary()


def writer_queue(engine: sa.Engine) -> WriterQueue | None:
    """The line a SQLite file's writers wait in (None on PostgreSQL or in memory), for a
    unit that begins its transactions on the driver, past the engine's begin hook."""
    return _WRITERS.get(engine)


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL; None for a database in memory."""
    # With `?uri=true` the database is a URI (`file:/path?mode=ro`); the file is its path.
    database = url.database or ""
    if url.query.get("uri") == "true":
        database = database.removeprefix("file:")
    return None if database in ("", ":memory:") else Path(database)


def _postgres_session_settings(lock_wait_seconds: float, statement_timeout_seconds: float) -> dict[str, str]:
    """`synchronous_commit=on` whatever the server's or role's default: a 202 promises
    that the command and its exports are on disk. And bounded waits."""
    return {
        "synchronous_commit": "on",
        "lock_timeout": f"{round(lock_wait_seconds * 1000)}ms",
        "statement_timeout": f"{round(statement_timeout_seconds * 1000)}ms",
        "idle_in_transaction_session_timeout": f"{POSTGRES_IDLE_IN_TRANSACTION_SECONDS}s",
    }


def _postgres_engine(url: sa.URL, pooling: Pooling, session: dict[str, str], options: dict) -> sa.Engine:
    url, arguments = connect_arguments(url, pooling)
    if "connect_timeout" not in url.query:
        arguments["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_SECONDS
    if pooling is Pooling.SESSION:
        # Sent at connection start, so they cost no round trip; after any ?options= given.
        given = url.query.get("options", "")
        arguments["options"] = " ".join([given, *(f"-c {name}={value}" for name, value in session.items())]).strip()
        url = url.difference_update_query(["options"])
    options["connect_args"] = {**arguments, **options.get("connect_args", {})}
    engine = sa.create_engine(url, **options)
    _drop_connections_the_server_closed(engine)
    if pooling is Pooling.TRANSACTION:
        _set_in_each_transaction(engine, session)
        _SETTINGS_PER_TRANSACTION.add(engine)
    return engine


# PostgreSQL engines behind a transaction pooler, whose settings each transaction sets.
_SETTINGS_PER_TRANSACTION: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def settings_at_connect(engine: sa.Engine) -> bool:
    """Whether every connection of `engine` has the service's settings from its start
    (SQLite's pragmas, PostgreSQL's startup options): a statement sent on the driver,
    past the engine's begin hooks, then runs under them too."""
    return engine not in _SETTINGS_PER_TRANSACTION


def _set_in_each_transaction(engine: sa.Engine, session: dict[str, str]) -> None:
    """Behind a transaction pooler a session setting would stay on a server connection
    that other clients share, and PgBouncer refuses startup options: each writing
    transaction sets them for itself (`set_config(..., true)`, like SET LOCAL), one
    statement more. Reading units run without a transaction; the role's settings
    (README, PgBouncer) bound those."""
    names = list(session)
    statement = "SELECT " + ", ".join(f"set_config('{name}', %s, true)" for name in names)
    values = tuple(session[name] for name in names)

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT" or options.get("statements_alone", False):
            return  # each statement its own transaction (unit_of_work.py, reading units)
        connection.exec_driver_sql(statement, values)


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
        gone = server_gone(dbapi_connection, driver_error)
        if gone is not None:
            raise sa.exc.DisconnectionError(gone)


def server_gone(dbapi_connection, driver_error: type[Exception]) -> str | None:
    """Why a PostgreSQL connection is dead without asking its server (see above), or None."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError, driver_error) as error:
        return f"the connection is closed: {error}"
    return "the server closed the connection" if readable else None


class WriterQueue:
    """SQLite's writers, one at a time, each waiting at most `wait_seconds`.

    SQLite lets one writer in and makes the others retry in its busy handler, which
    sleeps for growing intervals (1, 2, 5, 10... ms) however soon the lock is free:
    under load, writers mostly sleep. Here a writer first takes a lock of this
    process's threads, so that one thread a process asks at a time, then an flock()
    on a file beside the database (file_lock.py), which the kernel frees the moment
    its holder releases it or dies, and hands on at once. A writer that cannot have it
    in time gets LockWaitTimeout.
    """

    def __init__(self, path: Path, wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS):
        self.path = path
        self.wait_seconds = wait_seconds
        # Reentrant, so that a thread opening a second writing connection meets
        # SQLite's busy timeout, as it would without this queue, rather than hanging.
        self._threads = threading.RLock()
        self._depth = 0
        self._file = FileLock(path)

    def acquire(self) -> None:
        """Take the writers' lock, or raise LockWaitTimeout after `wait_seconds`."""
        deadline = time.monotonic() + self.wait_seconds
        if not self._threads.acquire(timeout=self.wait_seconds):
            raise LockWaitTimeout(f"another thread of this process held the write lock for {self.wait_seconds:g} s")
        self._depth += 1
        if self._depth > 1:
            return
        try:
            had = self._file.acquire(max(0.0, deadline - time.monotonic()))
        except (OSError, RuntimeError) as error:  # no descriptor or thread to wait with: an outage too
            had = False
            problem = f"the write lock on {self.path.name} could not be waited for: {error}"
        except BaseException:
            self._leave_line()
            raise
        else:
            problem = f"another process held the write lock on {self.path.name} for {self.wait_seconds:g} s"
        if not had:
            self._leave_line()
            raise LockWaitTimeout(problem)

    def _leave_line(self) -> None:
        self._depth -= 1
        self._threads.release()

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._file.release()
        finally:
            self._threads.release()


class LockWaitTimeout(sa.exc.OperationalError):
    """The writers' lock was not had in time: an outage for the caller (503), as SQLite's own "database is locked"."""

    def __init__(self, message: str):
        super().__init__("BEGIN IMMEDIATE", None, sqlite3.OperationalError(f"database is locked: {message}"))


def _serialize_sqlite_writes(engine: sa.Engine, writers: WriterQueue | None, lock_wait_seconds: float) -> None:
    # pysqlite's own transaction handling starts transactions late and as readers, so a
    # read-then-write transaction can fail to upgrade its lock. We begin them ourselves:
    # IMMEDIATE takes the write lock up front (others wait on busy_timeout), and WAL
    # lets readers go on meanwhile. This is SQLAlchemy's documented recipe.
    busy_timeout_ms = round(lock_wait_seconds * 1000)

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # synchronous=FULL: in WAL mode NORMAL may lose the last commits to a power
        # failure or an OS crash, after the client was told 202.
        pragmas = ("journal_mode=WAL", "foreign_keys=ON", "synchronous=FULL", f"busy_timeout={busy_timeout_ms}")
        for pragma in pragmas:
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
