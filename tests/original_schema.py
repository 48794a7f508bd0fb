"""The original ET API's tables, from the transcription in tests/sql/original_schema.sql."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from attrs import frozen

SQL = Path(__file__).with_name("sql") / "original_schema.sql"
RAILS_TABLES = ("schema_migrations", "ar_internal_metadata")  # Rails' own, not shared
_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*?)\n\);", re.S)
_COLUMN = re.compile(r"^\s*(\w+) (.+?)(?: DEFAULT (.+?))?( NOT NULL)?( PRIMARY KEY)?,?$")


@frozen
class Column:
    name: str
    type: str  # as PostgreSQL's format_type() prints it
    default: str | None
    nullable: bool


def shared_tables() -> dict[str, dict[str, Column]]:
    """Every column of the shared tables, by table and name, as the transcription declares it."""
    tables = {}
    for name, body in _TABLE.findall(SQL.read_text()):
        if name in RAILS_TABLES:
            continue
        columns = [_column(line) for line in body.strip().splitlines()]
        tables[name] = {column.name: column for column in columns}
    return tables


def _column(line: str) -> Column:
    name, kind, default, not_null, primary_key = _COLUMN.match(line).groups()
    if kind == "bigserial":
        kind, default = "bigint", "nextval('{table}_id_seq'::regclass)"
    return Column(name, kind, default, not (not_null or primary_key))


def create_original_tables(engine: sa.Engine) -> None:
    """The original's schema, on an empty PostgreSQL database."""
    with engine.begin() as connection:
        connection.exec_driver_sql(SQL.read_text())
