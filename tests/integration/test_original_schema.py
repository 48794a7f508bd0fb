"""The fresh schema is the original ET API's, column by column, with extras only beside it.

The expectation is tests/sql/original_schema.sql, transcribed from the reference. On
PostgreSQL the catalog's types, defaults and nullability must be the original's; on
SQLite, their faithful equivalents.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from adapters.sql.engine import create_engine
from tests.original_schema import Column, create_original_tables, shared_tables

ORIGINAL = shared_tables()
_PG_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid), NOT a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
"""
_PG_INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
_PG_FOREIGN_KEYS = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'"


def postgres_columns(engine: sa.Engine) -> dict[str, dict[str, Column]]:
    found: dict[str, dict[str, Column]] = {}
    with engine.connect() as connection:
        for table, name, kind, default, nullable in connection.exec_driver_sql(_PG_COLUMNS):
            found.setdefault(table, {})[name] = Column(name, kind, default, nullable)
    return found


def expected_on_postgres(table: str) -> dict[str, Column]:
    return {
        name: Column(name, c.type, c.default and c.default.replace("{table}", table), c.nullable)
        for name, c in ORIGINAL[table].items()
    }


def assert_original_columns_with_extras_beside(found: dict[str, dict[str, Column]], expected) -> None:
    for table in ORIGINAL:
        columns = found[table]
        wanted = expected(table)
        assert {name: columns.get(name) for name in wanted} == wanted, table
        extras = [column for name, column in columns.items() if name not in wanted]
        # An extra column never stops the Rails side inserting a row that does not name it.
        assert all(column.nullable or column.default is not None for column in extras), (table, extras)


@pytest.mark.postgres
def test_the_fresh_postgresql_schema_is_the_originals_column_by_column(postgres_url):
    engine = create_engine(postgres_url)
    try:
        assert_original_columns_with_extras_beside(postgres_columns(engine), expected_on_postgres)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_transcription_read_as_text_is_what_postgresql_makes_of_it(postgres_cluster):
    # The SQLite test reads the transcription's text: it must say what PostgreSQL reads.
    engine = create_engine(postgres_cluster.create_database("original_as_transcribed"))
    try:
        create_original_tables(engine)
        found = postgres_columns(engine)
    finally:
        engine.dispose()
    assert {table: found[table] for table in ORIGINAL} == {table: expected_on_postgres(table) for table in ORIGINAL}


@pytest.mark.postgres
def test_the_fresh_postgresql_schema_has_the_originals_indexes_and_foreign_keys(postgres_url, postgres_cluster):
    original = create_engine(postgres_cluster.create_database("original_for_indexes"))
    fresh = create_engine(postgres_url)
    try:
        create_original_tables(original)
        catalogs = []
        for engine in (original, fresh):
            with engine.connect() as connection:
                indexes = dict(connection.exec_driver_sql(_PG_INDEXES).all())
                keys = dict(connection.exec_driver_sql(_PG_FOREIGN_KEYS).all())
            catalogs.append((indexes, keys))
    finally:
        original.dispose()
        fresh.dispose()
    (original_indexes, original_keys), (fresh_indexes, fresh_keys) = catalogs
    named = {name: ddl for name, ddl in original_indexes.items() if name.startswith("index_")}
    assert {name: fresh_indexes.get(name) for name in named} == named
    assert fresh_keys == original_keys  # the original's foreign keys, and no other that old rows could break


# --- SQLite: the equivalent of each PostgreSQL type, as the migrations declare it ---

_SQLITE_TYPES = {
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "character varying": "VARCHAR",
    "text": "TEXT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp without time zone": "DATETIME",
    "timestamp(6) without time zone": "DATETIME",
    "uuid": "CHAR(32)",
    "jsonb": "JSON",
    # SQLite has no arrays: a JSON array holds the list.
    "integer[]": "JSON",
    "character varying[]": "JSON",
}


def sqlite_equivalent(column: Column) -> Column:
    numeric = re.fullmatch(r"numeric\((\d+),(\d+)\)", column.type)
    kind = f"NUMERIC({numeric[1]}, {numeric[2]})" if numeric else _SQLITE_TYPES[column.type]
    default = column.default
    if default is not None and default.startswith("nextval("):
        default = None  # an INTEGER PRIMARY KEY takes the next id by itself
    elif default == "gen_random_uuid()":
        default = None  # SQLite makes no UUIDs: the service always gives a command's id
    elif default is not None:
        text = default.split("::")[0].strip("'")
        default = "[]" if "[]" in default else text  # an empty array literal is '{}' in PostgreSQL
    return Column(column.name, kind, default, column.nullable)


def sqlite_columns(engine: sa.Engine) -> dict[str, dict[str, Column]]:
    found: dict[str, dict[str, Column]] = {}
    with engine.connect() as connection:
        for table in ORIGINAL:
            for _cid, name, kind, notnull, default, _pk in connection.exec_driver_sql(f"PRAGMA table_info({table})"):
                default = None if default is None else default.strip("'")
                found.setdefault(table, {})[name] = Column(name, kind, default, not notnull)
    return found


def test_the_fresh_sqlite_schema_is_the_originals_column_by_column(sqlite_url):
    engine = create_engine(sqlite_url)
    try:
        expected = {table: {name: sqlite_equivalent(c) for name, c in ORIGINAL[table].items()} for table in ORIGINAL}
        assert_original_columns_with_extras_beside(sqlite_columns(engine), expected.__getitem__)
    finally:
        engine.dispose()
