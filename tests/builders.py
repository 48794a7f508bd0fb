"""Rows for tests, written straight into the schema, and the SQL statements that ran."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from adapters.sql import tables

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def add_external_system(connection: sa.Connection, system_id: int, **overrides) -> None:
    row = {
        "id": system_id,
        "name": f"CCD system {system_id}",
        "reference": f"ccd_system_{system_id}",
        "office_codes": [24],
        "enabled": True,
        "export_queue": "external_system_ccd",
        "export_claims": True,
        "export_responses": True,
        "export_feedback_queue": "default",
        "always_save_export": False,
        "response_remote_office": False,
        "created_at": NOW,
        "updated_at": NOW,
    }
    connection.execute(sa.insert(tables.external_systems), {**row, **overrides})


def add_case_type(connection: sa.Connection, system_id: int, case_type_id: str) -> None:
    """The system's `case_type_id` configuration: the CCD case type its exports look in."""
    connection.execute(
        sa.insert(tables.external_system_configurations).values(
            external_system_id=system_id,
            key="case_type_id",
            value=case_type_id,
            can_read=True,
            can_write=True,
            created_at=NOW,
            updated_at=NOW,
        )
    )


def add_responses(connection: sa.Connection, response_ids) -> None:
    ids = list(response_ids)
    if not ids:
        return
    respondent_id = connection.execute(
        sa.insert(tables.respondents)
        .values(name="Acme Ltd", created_at=NOW, updated_at=NOW)
        .returning(tables.respondents.c.id)
    ).scalar_one()
    connection.execute(
        sa.insert(tables.responses),
        [
            {
                "id": rid,
                "reference": f"24{rid:010d}",
                "case_number": f"24{rid % 100000:05d}/2024",
                "claimants_name": "Jo Bloggs",
                "respondent_id": respondent_id,
                "pdf_template_reference": "et3-v1-en",
                "email_template_reference": "et3-v1-en",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for rid in ids
        ],
    )


def count_rows(connection: sa.Connection, table: sa.Table, **where) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return connection.execute(query).scalar_one()


@contextmanager
def counting_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements the engine sends to the database while the block runs."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
