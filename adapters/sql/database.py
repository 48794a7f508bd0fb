"""What the entry points ask of a database URL and its schema, without naming SQLAlchemy.

Errors an entry point reports in one line (the CLI's `unusable`) are caught as
`DatabaseError` (anything SQLAlchemy raises) or `DriverError` (what the driver raised).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from adapters.sql import migrate
from adapters.sql.pooling import Pooling, connect_arguments

DatabaseError = sa.exc.SQLAlchemyError
DriverError = sa.exc.DBAPIError


def shown(url: str) -> str:
    """The URL as it may be printed: the password masked."""
    return make_url(url).render_as_string(hide_password=True)


def engine_url(engine: sa.Engine) -> str:
    """The URL the engine connects to, password included (for `shown` and error messages)."""
    return engine.url.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The SQLite file a URL names; None for PostgreSQL or an in-memory SQLite database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def schema_is_current(engine: sa.Engine) -> bool:
    """Whether the schema is at the migrations' head (raises DatabaseError if it cannot tell)."""
    return migrate.is_current(engine)


def check_database_url(name: str, text: str, pooling: Pooling) -> str:
    """`text` if it is a URL the service can use; ValueError saying why, naming the variable, if not."""
    try:
        url = make_url(text)
    except sa.exc.ArgumentError:
        url = None
    if url is None or url.get_backend_name() not in ("postgresql", "sqlite"):
        raise ValueError(
            f"{name} must be a PostgreSQL (postgresql+psycopg://USER:PASSWORD@HOST/DB) or SQLite (sqlite:///PATH) URL"
        )
    try:
        (url.host or "").encode("idna")
    except UnicodeError:
        # Checked here: the driver would fail on it with a traceback from the resolver.
        raise ValueError(
            f"{name}: {url.host!r} is not a host name (postgresql+psycopg://USER:PASSWORD@HOST/DB)"
        ) from None
    if url.get_backend_name() == "postgresql":
        try:
            connect_arguments(url, pooling)
        except ValueError as error:
            raise ValueError(str(error).replace("DATABASE_URL", name, 1)) from None
    return text
