"""Rows for the scenarios, written and read straight through SQLAlchemy Core.

Against a live server the database outlives a scenario, so every seeding function
first deletes what an earlier run left for the same ids (and the exports that point
at them): run twice, a scenario starts from the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

import sqlalchemy as sa

from adapters.sql import tables
from tests import builders

RESPONSE = "Response"
PENDING_STATES = ("queued", "in_progress", "erroring")
# The tables an ExportResponses command writes to.
WRITTEN_BY_COMMANDS = {table.name: table for table in (tables.exports, tables.export_events, tables.commands)}


def _delete_exports(connection: sa.Connection, where: sa.ColumnElement[bool]) -> None:
    export_ids = sa.select(tables.exports.c.id).where(where)
    connection.execute(sa.delete(tables.export_events).where(tables.export_events.c.export_id.in_(export_ids)))
    connection.execute(sa.delete(tables.exports).where(where))


def remove_external_system(connection: sa.Connection, system_id: int) -> None:
    _delete_exports(connection, tables.exports.c.external_system_id == system_id)
    configurations = tables.external_system_configurations
    connection.execute(sa.delete(configurations).where(configurations.c.external_system_id == system_id))
    controls = tables.system_controls  # its pause and circuit breaker, which an earlier run may have opened
    connection.execute(sa.delete(controls).where(controls.c.external_system_id == system_id))
    connection.execute(sa.delete(tables.external_systems).where(tables.external_systems.c.id == system_id))


def put_external_system(connection: sa.Connection, system_id: int, *, enabled: bool, export_responses: bool) -> None:
    remove_external_system(connection, system_id)
    builders.add_external_system(connection, system_id, enabled=enabled, export_responses=export_responses)


def remove_responses(connection: sa.Connection, response_ids: Collection[int]) -> None:
    responses, respondents = tables.responses, tables.respondents
    ids = list(response_ids)
    _delete_exports(connection, (tables.exports.c.resource_type == RESPONSE) & tables.exports.c.resource_id.in_(ids))
    respondent_ids = list(connection.scalars(sa.select(responses.c.respondent_id).where(responses.c.id.in_(ids))))
    connection.execute(sa.delete(responses).where(responses.c.id.in_(ids)))
    still_used = sa.select(responses.c.respondent_id)
    connection.execute(
        sa.delete(respondents).where(respondents.c.id.in_(respondent_ids), respondents.c.id.not_in(still_used))
    )


def put_responses(connection: sa.Connection, response_ids: Collection[int]) -> None:
    remove_responses(connection, response_ids)
    builders.add_responses(connection, response_ids)


def forget_command(connection: sa.Connection, command_uuid: str) -> None:
    _delete_exports(connection, tables.exports.c.command_uuid == command_uuid)
    connection.execute(sa.delete(tables.commands).where(tables.commands.c.id == command_uuid))


def add_queued_export(connection: sa.Connection, response_id: int, system_id: int) -> None:
    """An export this service queued earlier, for a command this scenario does not send."""
    now = builders.NOW
    export_id = connection.execute(
        sa.insert(tables.exports)
        .values(
            resource_type=RESPONSE,
            resource_id=response_id,
            external_system_id=system_id,
            state="queued",
            percent_complete=0,
            message="Queued for export",
            external_data={},
            command_uuid=str(uuid.uuid4()),
            created_at=now,
            updated_at=now,
        )
        .returning(tables.exports.c.id)
    ).scalar_one()
    connection.execute(
        sa.insert(tables.export_events).values(
            export_id=export_id,
            uuid=str(uuid.uuid4()),
            state="queued",
            percent_complete=0,
            message="Queued for export",
            data={"external_data": {}},
            created_at=now,
            updated_at=now,
        )
    )


def snapshot(connection: sa.Connection) -> dict[str, list[tuple]]:
    """Every row of the tables a command writes to, in key order: equal snapshots, nothing written."""
    return {
        name: [tuple(row) for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns))]
        for name, table in WRITTEN_BY_COMMANDS.items()
    }


def exports_of_command(connection: sa.Connection, command_uuid: str) -> list[sa.Row]:
    query = sa.select(tables.exports).where(tables.exports.c.command_uuid == command_uuid)
    return list(connection.execute(query.order_by(tables.exports.c.id)))


def events_of_export(connection: sa.Connection, export_id: int) -> list[sa.Row]:
    query = sa.select(tables.export_events).where(tables.export_events.c.export_id == export_id)
    return list(connection.execute(query))


def exports_of_response(
    connection: sa.Connection, response_id: int, *, system_id: int | None = None, states: Collection[str] | None = None
) -> list[sa.Row]:
    exports = tables.exports
    query = sa.select(exports).where(exports.c.resource_type == RESPONSE, exports.c.resource_id == response_id)
    if system_id is not None:
        query = query.where(exports.c.external_system_id == system_id)
    if states is not None:
        query = query.where(exports.c.state.in_(list(states)))
    return list(connection.execute(query))


def logged_commands(connection: sa.Connection, command_uuid: str) -> list[sa.Row]:
    return list(connection.execute(sa.select(tables.commands).where(tables.commands.c.id == command_uuid)))


# --- the export pipeline: systems that reach CCD, responses with case numbers, offices ---


def put_ccd_system(
    connection: sa.Connection, system_id: int, *, case_type_id: str, response_remote_office: bool = False
) -> None:
    """An enabled system that exports responses to the CCD case type `case_type_id`."""
    remove_external_system(connection, system_id)
    builders.add_external_system(connection, system_id, response_remote_office=response_remote_office)
    builders.add_case_type(connection, system_id, case_type_id)


def put_responses_with_case_numbers(connection: sa.Connection, case_numbers: dict[int, str]) -> None:
    """Responses (afresh, with no office) answering the given case numbers, by response id."""
    put_responses(connection, case_numbers)
    for response_id, case_number in case_numbers.items():
        connection.execute(
            sa.update(tables.responses).where(tables.responses.c.id == response_id).values(case_number=case_number)
        )


def office_of_response(connection: sa.Connection, response_id: int) -> tuple[int, str] | None:
    """The (code, name) of the office the response is assigned to, or None."""
    responses, offices = tables.responses, tables.offices
    query = (
        sa.select(offices.c.code, offices.c.name)
        .join(responses, responses.c.office_id == offices.c.id)
        .where(responses.c.id == response_id)
    )
    row = connection.execute(query).first()
    return None if row is None else (row.code, row.name)


def circuit_of(connection: sa.Connection, system_id: int) -> sa.Row | None:
    """The system's control row: its circuit breaker (None: closed, never failed)."""
    controls = tables.system_controls
    return connection.execute(sa.select(controls).where(controls.c.external_system_id == system_id)).first()
