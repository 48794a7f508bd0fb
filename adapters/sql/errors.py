"""Database errors in the ports' terms, at one seam for every SQL adapter."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
import sqlalchemy.exc

from application.ports import StoreUnavailable, WriteConflict

# SQLSTATEs of a database that cannot serve now but may shortly: connection exceptions
# (08), insufficient resources (53: too many connections, disk full), operator
# intervention (57: shutting down, starting up, a statement cancelled by a timeout),
# system errors (58), transactions rolled back by the server (40: serialization
# failures, deadlocks) and locks not granted in time (55P03).
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58", "40")
_UNAVAILABLE_STATES = ("55P03",)
# A protocol violation on a connection that survives it is no outage but a fault of
# ours or of what sits between us and the server (a pooler given prepared statements):
# retrying would not help, so it is a 500 with its request id, not a 503.
_PROTOCOL_VIOLATION = "08P01"


def translate(error: BaseException | None) -> Exception | None:
    """The port-level meaning of a database error, or None when it has none."""
    if isinstance(error, sa.exc.IntegrityError):
        return WriteConflict(str(error.orig))
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable("the database connection was lost")
    if isinstance(error, sa.exc.OperationalError) and _is_outage(getattr(error.orig, "sqlstate", None)):
        return StoreUnavailable(str(error.orig))
    return None


@contextlib.contextmanager
def translating() -> Iterator[None]:
    """Raises a database error inside the block as its port-level meaning, where it has one."""
    try:
        yield
    except sa.exc.DBAPIError as error:
        meaning = translate(error)
        if meaning is None:
            raise
        raise meaning from error


def _is_outage(sqlstate: str | None) -> bool:
    if sqlstate is None:
        return True  # the driver's own: the server could not be reached, or timed out
    if sqlstate == _PROTOCOL_VIOLATION:
        return False
    return sqlstate[:2] in _UNAVAILABLE_CLASSES or sqlstate in _UNAVAILABLE_STATES
