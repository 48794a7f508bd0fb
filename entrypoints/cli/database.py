"""What the commands need of their database; each problem is one line saying where and what to do.

Commands that only read (status, fake-ccd, the worker) never create a database: SQLite
would make an empty file for any path it is given, and the command would then fail on
a missing table, naming neither the path nor the remedy.
"""

from __future__ import annotations

from adapters.sql.database import DatabaseError, engine_url, schema_is_current, shown, sqlite_file
from entrypoints.bootstrap import Services

MIGRATE = "run `export-responses migrate`"
_WHICH = "or set DATABASE_URL or EXPORT_RESPONSES_DATA_DIR to the database you mean"


class DatabaseProblem(Exception):
    """The database cannot be used; the message says where and what to do, in one line."""


def require_existing(url: str) -> None:
    """For commands that need a database already made: a missing SQLite file is not created."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseProblem(f"there is no database at {path}: {MIGRATE} to create it, {_WHICH}")


def prepare_folder(url: str) -> None:
    """For commands that may create the database: the SQLite file's folder, made now."""
    path = sqlite_file(url)
    if path is None:
        return
    try:
        # Owner only: the database holds the responses' personal data.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise DatabaseProblem(
            f"cannot create the folder {path.parent} for the database {shown(url)}: "
            f"{error.strerror or error}; set DATABASE_URL or EXPORT_RESPONSES_DATA_DIR "
            f"to a folder you can write"
        ) from None


def require_current_schema(services: Services) -> None:
    """For commands that use the database as it is: its schema must be current."""
    assert services.engine is not None, "the commands run on a database, not the in-memory store"
    url = engine_url(services.engine)
    try:
        current = schema_is_current(services.engine)
    except DatabaseError as error:
        raise unusable(error, url) from None
    if not current:
        raise DatabaseProblem(f"the database at {shown(url)} has no current schema: {MIGRATE}")


def unusable(error: BaseException, url: str) -> DatabaseProblem:
    """One line for a database error: the URL, the driver's first line, what to do."""
    reason = getattr(error, "orig", None) or error
    first_line = next(iter(str(reason).strip().splitlines()), type(reason).__name__)
    if "no such table" in first_line or first_line.startswith("relation"):
        remedy = MIGRATE
    elif "database" in first_line and "does not exist" in first_line:
        remedy = f"create it (docs/deploying.md), then {MIGRATE}"
    else:
        remedy = "check DATABASE_URL and that the database server is running"
    return DatabaseProblem(f"cannot use the database at {shown(url)}: {first_line}; {remedy}")
