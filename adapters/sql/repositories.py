"""SQLAlchemy implementations of the repositories and the command log."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

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

_SYSTEM_FIELDS = [c.name for c in external_systems.c if c.name not in ("created_at", "updated_at")]
# Only accepted commands are logged, and an accepted reply is always a 202 with this type.
_ACCEPTED_STATUS = 202
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def in_ids(column: sa.ColumnElement, ids: Collection[int], session: Session) -> sa.ColumnElement[bool]:
    """`column IN ids` with one bound parameter, whatever the number of ids."""
    id_list = sorted(ids)
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.literal(id_list, ARRAY(sa.BigInteger)))
    values = sa.func.json_each(sa.literal(json.dumps(id_list))).table_valued("value")
    return column.in_(sa.select(values.c.value))


class SqlAlchemyExternalSystemRepository(ExternalSystemRepository):
    def __init__(self, session: Session):
        self.session = session

    def get(self, system_id: int) -> ExternalSystem | None:
        query = sa.select(*[external_systems.c[name] for name in _SYSTEM_FIELDS])
        row = self.session.execute(query.where(external_systems.c.id == system_id)).mappings().first()
        return None if row is None else ExternalSystem(**row)


class SqlAlchemyResponseRepository(ResponseRepository):
    def __init__(self, session: Session):
        self.session = session

    def existing_ids(self, response_ids: Collection[int]) -> set[int]:
        if not response_ids:
            return set()
        query = sa.select(responses.c.id).where(in_ids(responses.c.id, response_ids, self.session))
        return set(self.session.scalars(query))


class SqlAlchemyExportRepository(ExportRepository):
    def __init__(self, session: Session):
        self.session = session

    def pending_response_ids(self, system_id: int, response_ids: Collection[int]) -> set[int]:
        if not response_ids:
            return set()
        query = sa.select(exports.c.resource_id).where(
            exports.c.resource_type == RESPONSE,
            exports.c.external_system_id == system_id,
            exports.c.state.in_([state.value for state in PENDING_STATES]),
            in_ids(exports.c.resource_id, response_ids, self.session),
        )
        return set(self.session.scalars(query))

    def add_all(self, new_exports: Sequence[Export]) -> None:
        if not new_exports:
            return
        # Three statements for any number of exports: insert them (executemany), read
        # back the ids the database gave them, insert their events (executemany).
        self.session.execute(sa.insert(exports), [_export_row(export) for export in new_exports])
        keys = {(e.command_uuid, e.resource_type, e.resource_id, e.external_system_id) for e in new_exports}
        uuids = {export.command_uuid for export in new_exports}
        found = self.session.execute(
            sa.select(exports.c.id, exports.c.command_uuid, exports.c.resource_type,
                      exports.c.resource_id, exports.c.external_system_id)
            .where(exports.c.command_uuid.in_(uuids))
        )  # fmt: skip
        ids = {tuple(row[1:]): row[0] for row in found if tuple(row[1:]) in keys}
        event_rows = [
            _event_row(ids[(e.command_uuid, e.resource_type, e.resource_id, e.external_system_id)], event, e.created_at)
            for e in new_exports
            for event in e.events
        ]
        if event_rows:
            self.session.execute(sa.insert(export_events), event_rows)


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
    def __init__(self, session: Session):
        self.session = session

    def get(self, uuid: str) -> LoggedCommand | None:
        query = sa.select(commands.c.command, commands.c.request_body, commands.c.response_body)
        row = self.session.execute(query.where(commands.c.id == uuid)).first()
        if row is None:
            return None
        result = result_from_envelope(json.loads(row.response_body), row.command)
        return LoggedCommand(uuid, row.command, row.request_body, result)

    def add(self, command: LoggedCommand) -> None:
        now = datetime.now(timezone.utc)
        body = json.dumps(envelope(command.result), separators=(",", ":"))
        self.session.execute(
            sa.insert(commands).values(
                id=command.uuid, command=command.name, request_body=command.request_body,
                request_headers={}, response_body=body, response_headers=_JSON_HEADERS,
                response_status=_ACCEPTED_STATUS, created_at=now, updated_at=now,
            )
        )  # fmt: skip
