"""SQLAlchemy implementations of the repositories and the command log.

Statements are built once, with bound parameters, at import: building a statement and
its cache key costs more than running it on SQLite, and these run on every command.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from adapters.sql.tables import commands, export_events, exports, external_systems, responses
from application.ports import (
    CommandLog,
    ExportRepository,
    ExternalSystemRepository,
    LoggedCommand,
    ResponseRepository,
)
from domain.exports import PENDING_STATES, RESPONSE, Export
from domain.external_systems import ExternalSystem
from domain.results import envelope, result_from_envelope

# Only accepted commands are logged, and an accepted reply is always a 202 with this type.
_ACCEPTED_STATUS = 202
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def _in_ids(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement[bool]:
    """`column IN :ids` with one bound parameter, whatever the number of ids."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.BigInteger)))
    values = sa.func.json_each(sa.bindparam("ids", type_=sa.JSON)).table_valued("value")
    return column.in_(sa.select(values.c.value))


def _by_dialect(build) -> dict[str, sa.Executable]:
    return {dialect: build(dialect) for dialect in ("postgresql", "sqlite")}


_SYSTEM = sa.select(*[c for c in external_systems.c if c.name not in ("created_at", "updated_at")]).where(
    external_systems.c.id == sa.bindparam("system_id")
)
_EXISTING = _by_dialect(lambda dialect: sa.select(responses.c.id).where(_in_ids(responses.c.id, dialect)))
_PENDING = _by_dialect(
    lambda dialect: sa.select(exports.c.resource_id).where(
        exports.c.resource_type == RESPONSE,
        exports.c.external_system_id == sa.bindparam("system_id"),
        exports.c.state.in_(sorted(state.value for state in PENDING_STATES)),
        _in_ids(exports.c.resource_id, dialect),
    )
)
_INSERT_EXPORTS = sa.insert(exports)
_NEW_EXPORT_IDS = sa.select(exports.c.id, exports.c.resource_id).where(
    exports.c.command_uuid == sa.bindparam("command_uuid"),
    exports.c.resource_type == RESPONSE,
    exports.c.external_system_id == sa.bindparam("system_id"),
)
_INSERT_EVENTS = sa.insert(export_events)
_LOGGED = sa.select(commands.c.command, commands.c.request_body, commands.c.response_body).where(
    commands.c.id == sa.bindparam("uuid")
)
_LOG = sa.insert(commands)


class SqlAlchemyExternalSystemRepository(ExternalSystemRepository):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def get(self, system_id: int) -> ExternalSystem | None:
        row = self.connection.execute(_SYSTEM, {"system_id": system_id}).mappings().first()
        return None if row is None else ExternalSystem(**row)


class SqlAlchemyResponseRepository(ResponseRepository):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def existing_ids(self, response_ids: Collection[int]) -> set[int]:
        if not response_ids:
            return set()
        query = _EXISTING[self.connection.dialect.name]
        return set(self.connection.scalars(query, {"ids": sorted(response_ids)}))


class SqlAlchemyExportRepository(ExportRepository):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def pending_response_ids(self, system_id: int, response_ids: Collection[int]) -> set[int]:
        if not response_ids:
            return set()
        query = _PENDING[self.connection.dialect.name]
        return set(self.connection.scalars(query, {"system_id": system_id, "ids": sorted(response_ids)}))

    def add_all(self, new_exports: Sequence[Export]) -> None:
        if not new_exports:
            return
        # Three statements for any number of exports: insert them (executemany), read
        # back the ids the database gave them, insert their events (executemany).
        self.connection.execute(_INSERT_EXPORTS, [_export_row(export) for export in new_exports])
        ids: dict[tuple, int] = {}
        for command_uuid, system_id in {(e.command_uuid, e.external_system_id) for e in new_exports}:
            found = self.connection.execute(_NEW_EXPORT_IDS, {"command_uuid": command_uuid, "system_id": system_id})
            ids.update({(command_uuid, system_id, resource_id): export_id for export_id, resource_id in found})
        event_rows = [
            _event_row(ids[(e.command_uuid, e.external_system_id, e.resource_id)], event, e.created_at)
            for e in new_exports
            for event in e.events
        ]
        if event_rows:
            self.connection.execute(_INSERT_EVENTS, event_rows)


def _export_row(export: Export) -> dict:
    return {
        "resource_type": export.resource_type,
        "resource_id": export.resource_id,
        "external_system_id": export.external_system_id,
        "state": export.state.value,
        "percent_complete": export.percent_complete,
        "message": export.message,
        "external_data": export.external_data,
        "command_uuid": export.command_uuid,
        "next_attempt_at": export.created_at,
        "created_at": export.created_at,
        "updated_at": export.created_at,
    }


def _event_row(export_id: int, event, at: datetime) -> dict:
    return {
        "export_id": export_id,
        "uuid": event.uuid,
        "state": event.state.value,
        "percent_complete": event.percent_complete,
        "message": event.message,
        "data": event.data,
        "created_at": at,
        "updated_at": at,
    }


class SqlAlchemyCommandLog(CommandLog):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def get(self, uuid: str) -> LoggedCommand | None:
        row = self.connection.execute(_LOGGED, {"uuid": uuid}).first()
        if row is None:
            return None
        result = result_from_envelope(json.loads(row.response_body), row.command)
        return LoggedCommand(uuid, row.command, row.request_body, result)

    def add(self, command: LoggedCommand) -> None:
        now = datetime.now(timezone.utc)
        body = json.dumps(envelope(command.result), separators=(",", ":"))
        self.connection.execute(_LOG, {
            "id": command.uuid, "command": command.name, "request_body": command.request_body,
            "request_headers": {}, "response_body": body, "response_headers": _JSON_HEADERS,
            "response_status": _ACCEPTED_STATUS, "created_at": now, "updated_at": now,
        })  # fmt: skip
