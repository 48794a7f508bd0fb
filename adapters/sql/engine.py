"""Engines for the two supported databases, configured for safe concurrent writes."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Without a connect timeout, a database that accepts connections but never answers
# (hung, failing over, behind a firewall that drops packets) holds each request until
# gunicorn kills its worker, and the worker's loop forever.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


def create_engine(url: str, **options) -> sa.Engine:
    """An engine for `url`; on SQLite the file's folder is created on first use."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        options.setdefault("pool_pre_ping", True)
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS,
                                       **options.get("connect_args", {})}  # fmt: skip
        return sa.create_engine(url, **options)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **options)
    _serialize_sqlite_writes(engine)
    return engine


def _serialize_sqlite_writes(engine: sa.Engine) -> None:
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
        read_only = connection.get_execution_options().get("read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
