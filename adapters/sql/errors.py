"""Database errors in the ports' terms, at one seam for every SQL adapter."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.exc

from application.ports import StoreUnavailable, WriteConflict


def translate(error: BaseException | None) -> Exception | None:
    """The port-level meaning of a database error, or None when it has none."""
    if isinstance(error, sa.exc.IntegrityError):
        return WriteConflict(str(error.orig))
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable("the database connection was lost")
    if isinstance(error, sa.exc.OperationalError):
        return StoreUnavailable(str(error.orig))
    return None
