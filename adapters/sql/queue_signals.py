"""Hearing of newly queued exports at once, so that an idle worker starts them within
milliseconds of the 202 instead of at its next poll (which stays, as the fallback).

PostgreSQL: the accepting transaction notifies `QUEUED_CHANNEL` inside a statement it
sends anyway (`pg_notify_once`, no round trip more), delivered when it commits. The
worker LISTENs on a connection of its own, which must be a session: LISTEN does not
work through PgBouncer in transaction mode, so behind one the worker listens on
DATABASE_DIRECT_URL, or does without and polls. The connection is watched by TCP
keepalives and replaced when it drops; no wait is without a limit.

SQLite has no notifications: a connection of its own reads `PRAGMA data_version`,
which changes whenever another connection (any process) commits, every 50 ms. That
costs a few microseconds each time, not a query of the queue.
"""

from __future__ import annotations

import abc
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.sql.engine import create_engine, sqlite_file

LOG = logging.getLogger("export_responses.worker")
QUEUED_CHANNEL = "export_responses_queued"
SQLITE_CHECK_SECONDS = 0.05
# How long one wait for a notification lasts before the listener checks whether it is stopping.
LISTEN_WAIT_SECONDS = 0.5
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_LONGEST_SECONDS = 10.0
# A connection whose peer went silent (a dropped network) is found dead within about half a minute.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def pg_notify_once(value: sa.ColumnElement) -> sa.ScalarSelect:
    """`(SELECT value FROM pg_notify(...))`: as an uncorrelated subquery PostgreSQL runs it
    once per statement (an InitPlan), when the first row needs it: a statement that
    inserts no row notifies no one."""
    return sa.select(value).select_from(sa.func.pg_notify(QUEUED_CHANNEL, "")).scalar_subquery()


class Listener(abc.ABC):
    """A daemon thread that calls `heard()` whenever exports may have been queued."""

    name = "queue-listener"

    def __init__(self, heard: Callable[[], None]):
        self.heard = heard
        self.stopping = threading.Event()
        self.listening = False  # since the last connection failed
        self._thread = threading.Thread(target=self._run_until_stopped, name=self.name, daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self, wait_seconds: float = 2.0) -> None:
        self.stopping.set()
        self._thread.join(wait_seconds)

    def _run_until_stopped(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        while not self.stopping.is_set():
            try:
                self.listen()
                return
            except Exception as error:  # noqa: BLE001 - the worker goes on polling meanwhile
                if self.listening:  # it had listened: a new outage, retried soon again
                    self.listening, delay = False, RECONNECT_FIRST_SECONDS
                LOG.warning(json.dumps({"event": "queue_listener_lost", "error": _one_line(error), "retry_in": delay}))
            self.stopping.wait(delay)
            delay = min(delay * 2, RECONNECT_LONGEST_SECONDS)

    def _ready(self, detail: dict[str, str]) -> None:
        self.listening = True
        LOG.info(json.dumps({"event": "queue_listener_ready", **detail}))
        self.heard()

    @abc.abstractmethod
    def listen(self) -> None:
        """Listen until stopped, calling `heard` once when listening starts (what was queued
        while no one listened is due now) and at each change; raise when the connection fails."""


class PostgresListener(Listener):
    def __init__(self, url: str, heard: Callable[[], None]):
        super().__init__(heard)
        self.url = url

    def listen(self) -> None:
        engine = create_engine(self.url, poolclass=sa.pool.NullPool, connect_args=dict(_KEEPALIVES))
        try:
            with engine.connect() as connection:
                driver = connection.connection.driver_connection
                driver.rollback()  # SQLAlchemy's first-connect queries left a transaction open
                driver.autocommit = True
                driver.execute(f"LISTEN {QUEUED_CHANNEL}")
                self._ready({"channel": QUEUED_CHANNEL})
                while not self.stopping.is_set():
                    for _ in driver.notifies(timeout=LISTEN_WAIT_SECONDS, stop_after=1):
                        self.heard()
        finally:
            engine.dispose()


class SqliteWatcher(Listener):
    def __init__(self, path: Path, heard: Callable[[], None], check_seconds: float = SQLITE_CHECK_SECONDS):
        super().__init__(heard)
        self.path = path
        self.check_seconds = check_seconds

    def listen(self) -> None:
        connection = sqlite3.connect(self.path, timeout=1.0, check_same_thread=False)
        try:
            version = _data_version(connection)
            self._ready({"watching": "PRAGMA data_version"})
            while not self.stopping.wait(self.check_seconds):
                now = _data_version(connection)
                if now != version:
                    version = now
                    self.heard()
        finally:
            connection.close()


def _data_version(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA data_version").fetchone()[0]


def queue_listener(database_url: str, session_url: str | None, heard: Callable[[], None]) -> Listener | None:
    """The listener for this database, not started; None (polling alone) behind a
    transaction pooler without a session URL, or for a database in memory."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = sqlite_file(url)
        return None if database is None else SqliteWatcher(database, heard)
    if session_url is None:
        LOG.warning(
            json.dumps(
                {
                    "event": "queue_listener_off",
                    "detail": "LISTEN needs a session: behind a transaction pooler set DATABASE_DIRECT_URL; "
                    "until then the worker polls",
                }
            )
        )
        return None
    return PostgresListener(session_url, heard)


def _one_line(error: BaseException) -> str:
    first = next(iter(str(error).strip().splitlines()), "")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
