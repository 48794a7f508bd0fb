"""How the service connects to PostgreSQL: with whole sessions, or through a transaction pooler.

Behind PgBouncer in transaction pooling mode a client holds a server connection for
one transaction only: the next may run on another, which another client used in
between. So nothing may outlive a transaction there: no server-side prepared
statement (psycopg prepares a query after five runs, and `executemany` at once: the
name would reach a server that has no such statement, or worse, another client's
statement under the same name, which runs and returns that statement's rows), no
`SET`, `LISTEN` or session advisory lock, no `options` startup parameter (PgBouncer
refuses it). `prepare_threshold=None` turns psycopg's preparing off altogether,
`executemany` included.
"""

from __future__ import annotations

import enum

import psycopg
import sqlalchemy as sa
from psycopg.conninfo import make_conninfo


class Pooling(enum.Enum):
    SESSION = "session"  # a direct connection, or a pooler in session mode: sessions are ours
    TRANSACTION = "transaction"  # PgBouncer pool_mode=transaction: a session lasts one transaction


# psycopg.connect()'s own keyword arguments besides prepare_threshold: SQLAlchemy sets
# them, or they take Python objects. Every other query parameter is libpq's.
_MANAGED_ARGUMENTS = ("autocommit", "context", "row_factory", "cursor_factory")
_UNSET = ("", "none", "null")


def parse_pooling(text: str | None) -> Pooling:
    value = (text or Pooling.SESSION.value).strip().lower()
    try:
        return Pooling(value)
    except ValueError:
        raise ValueError(f"DATABASE_POOLING must be session (the default) or transaction, not {text!r}") from None


def connect_arguments(url: sa.URL, pooling: Pooling) -> tuple[sa.URL, dict]:
    """The URL without psycopg's own arguments, and those arguments in their types.

    SQLAlchemy passes query parameters on as strings: `?prepare_threshold=None` would
    reach psycopg as the string "None" and fail on the first query with a TypeError.
    A parameter that cannot work is refused here, in one line, before any connection.
    """
    query = dict(url.query)
    for name, value in query.items():
        # SQLAlchemy takes several ?host= for libpq's multi-host failover; nothing else.
        if not isinstance(value, str) and name != "host":
            raise ValueError(f"DATABASE_URL: ?{name}= is given more than once")
    for name in _MANAGED_ARGUMENTS:
        if name in query:
            raise ValueError(f"DATABASE_URL: ?{name}= is not supported (the service manages it)")
    arguments = {"prepare_threshold": _prepare_threshold(query.pop("prepare_threshold", None), pooling)}
    _check_libpq_parameters(query, pooling)
    return url.difference_update_query(["prepare_threshold"]), arguments


def _prepare_threshold(text: str | None, pooling: Pooling) -> int | None:
    default = None if pooling is Pooling.TRANSACTION else 5  # psycopg's own default
    if text is None:
        return default
    if text.strip().lower() in _UNSET:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"DATABASE_URL: ?prepare_threshold= must be a whole number or None, not {text!r}") from None
    if value < 0:
        raise ValueError(f"DATABASE_URL: ?prepare_threshold= must be 0 or more, or None, not {value}")
    if pooling is Pooling.TRANSACTION:
        raise ValueError(
            "DATABASE_URL: ?prepare_threshold= must be None (or left out) with DATABASE_POOLING=transaction: "
            "a transaction pooler cannot keep prepared statements"
        )
    return value


def _check_libpq_parameters(query: dict, pooling: Pooling) -> None:
    if pooling is Pooling.TRANSACTION and "options" in query:
        raise ValueError(
            "DATABASE_URL: ?options= cannot be used with DATABASE_POOLING=transaction: "
            "PgBouncer does not pass startup options to the server"
        )
    try:
        make_conninfo("", **{name: value for name, value in query.items() if isinstance(value, str)})
    except psycopg.ProgrammingError as error:
        first_line = next(iter(str(error).strip().splitlines()), "invalid")
        raise ValueError(f"DATABASE_URL: {first_line}") from None
