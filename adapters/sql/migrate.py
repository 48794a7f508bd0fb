"""Create, upgrade or adopt the schema with Alembic, from code (no alembic.ini needed).

Three kinds of database can be migrated: an empty one, one this service migrated
(it has `alembic_version`), and the original ET API's (Rails' `schema_migrations` and
the original's tables), which is adopted: only the service's extras are added, in the
same one transaction as everything else. Any other database is refused untouched.
"""

from __future__ import annotations

import contextlib
import enum
import io
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
# The original's tables this service shares: all must be there to adopt a database.
ORIGINAL_TABLES = frozenset(
    {
        "addresses",
        "commands",
        "export_events",
        "exports",
        "external_system_configurations",
        "external_systems",
        "offices",
        "representatives",
        "respondents",
        "responses",
    }
)


class DatabaseKind(enum.Enum):
    EMPTY = "empty"
    OURS = "ours"
    ORIGINAL = "original"


class Refused(Exception):
    """This database is not one `migrate` may change; the message says why, in one line."""


def alembic_config(connection: sa.Connection | None = None, adopting: bool = False) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["adopting"] = adopting
    return config


def database_kind(connection: sa.Connection) -> DatabaseKind:
    tables = set(sa.inspect(connection).get_table_names())
    if "alembic_version" in tables:
        return DatabaseKind.OURS
    if not tables:
        return DatabaseKind.EMPTY
    where = connection.engine.url.render_as_string(hide_password=True)
    if "schema_migrations" not in tables:
        raise Refused(
            f"{where} holds tables but is neither this service's (no alembic_version) nor the original "
            "ET API's (no schema_migrations): nothing was changed"
        )
    missing = sorted(ORIGINAL_TABLES - tables)
    if missing:
        raise Refused(
            f"{where} has Rails' schema_migrations but not the original ET API's tables "
            f"{', '.join(missing)}: nothing was changed"
        )
    return DatabaseKind.ORIGINAL


def upgrade(engine: sa.Engine, revision: str = "head", adopt: bool = True) -> DatabaseKind:
    """Migrate to `revision` in one transaction; the kind of database it was.

    `adopt=False` refuses the original's database, for commands that migrate on their
    own: adopting it is a step an operator takes knowingly, with `migrate`.
    """
    with engine.connect() as connection, _foreign_keys_checked_at_the_end(connection):
        with connection.begin():
            kind = database_kind(connection)
            if kind is DatabaseKind.ORIGINAL and not adopt:
                raise Refused(
                    "this is the original ET API's database: run `export-responses migrate` (see the "
                    "README, 'Beside the original ET API') before anything else"
                )
            command.upgrade(alembic_config(connection, adopting=kind is DatabaseKind.ORIGINAL), revision)
            _check_foreign_keys(connection)
    return kind


@contextlib.contextmanager
def _foreign_keys_checked_at_the_end(connection: sa.Connection) -> Iterator[None]:
    """On SQLite, foreign keys off while migrating, as SQLite's own procedure for
    changing a table has it: a changed table is rebuilt (copied, dropped, renamed), and
    dropping a table that other rows point to would fail. `_check_foreign_keys` then
    checks every key before the migration commits."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys = OFF")  # outside a transaction, or SQLite ignores it
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _check_foreign_keys(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"the migration would leave rows pointing nowhere: {broken[:5]}")


def dry_run(engine: sa.Engine) -> str:
    """The SQL `upgrade` would run on this database, without changing it or taking its locks."""
    if engine.dialect.name != "postgresql":
        raise Refused("--dry-run needs PostgreSQL: on SQLite the migrations rebuild tables from what they find there")
    with engine.connect() as connection:
        kind = database_kind(connection)
        current = MigrationContext.configure(connection).get_current_revision()
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if current in heads:
        return "-- the schema is current: nothing to run\n"
    config = alembic_config(adopting=kind is DatabaseKind.ORIGINAL)
    buffer = io.StringIO()
    config.attributes.update(dialect_name=engine.dialect.name, output_buffer=buffer)
    command.upgrade(config, f"{current}:head" if current else "head", sql=True)
    return buffer.getvalue()


def is_current(engine: sa.Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) == heads
