"""SQLAlchemy implementations of the repositories and the command log.

Statements are built once, with bound parameters, at import: building a statement and
its cache key costs more than running it on SQLite, and these run on every command.
"""

from __future__ import annotations

import json
from collections.abc import Collection
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
from domain.exports import PENDING_STATES, QUEUED_MESSAGE, RESPONSE, ExportState
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
def _id_values(dialect: str) -> sa.TableValuedAlias:
    """The `ids` parameter as rows of one column, `value`, in the order given."""
    if dialect == "postgresql":
        return sa.func.unnest(sa.bindparam("ids", type_=ARRAY(sa.BigInteger))).table_valued("value").render_derived()
    return sa.func.json_each(sa.bindparam("ids", type_=sa.JSON)).table_valued("value")


def _typed(name: str, column: sa.Column) -> sa.BindParameter:
    return sa.bindparam(name, type_=column.type)


# Set-based, so that queueing 10,000 exports costs two statements and no Python per row:
# the rows are the domain's queued export and event (domain.exports.queue_response_export).
_QUEUE_EXPORTS = _by_dialect(
    lambda dialect: sa.insert(exports).from_select(
        ["resource_type", "resource_id", "external_system_id", "state", "percent_complete", "message",
         "external_data", "command_uuid", "attempts", "next_attempt_at", "created_at", "updated_at"],
        sa.select(
            sa.literal(RESPONSE), _id_values(dialect).c.value, _typed("system_id", exports.c.external_system_id),
            sa.literal(ExportState.QUEUED.value), sa.literal(0), sa.literal(QUEUED_MESSAGE),
            _typed("external_data", exports.c.external_data), _typed("command_uuid", exports.c.command_uuid),
            sa.literal(0), _typed("now", exports.c.next_attempt_at), _typed("now", exports.c.created_at),
            _typed("now", exports.c.updated_at),
        ),
    )
)  # fmt: skip
# A version 4 UUID made by the database for each queued event.
_NEW_UUID = {
    "postgresql": sa.func.gen_random_uuid(),
    "sqlite": sa.literal_column(
        "lower(hex(randomblob(4)) || hex(randomblob(2)) || '4' || substr(hex(randomblob(2)), 2) "
        "|| substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || hex(randomblob(6)))"
    ),
}
_QUEUE_EVENTS = _by_dialect(
    lambda dialect: sa.insert(export_events).from_select(
        ["export_id", "uuid", "state", "percent_complete", "message", "data", "created_at", "updated_at"],
        sa.select(
            exports.c.id, _NEW_UUID[dialect], sa.literal(ExportState.QUEUED.value), sa.literal(0),
            sa.literal(QUEUED_MESSAGE), _typed("data", export_events.c.data), _typed("now", export_events.c.created_at),
            _typed("now", export_events.c.updated_at),
        ).where(
            exports.c.command_uuid == _typed("command_uuid", exports.c.command_uuid),
            exports.c.external_system_id == _typed("system_id", exports.c.external_system_id),
        ),
    )
)  # fmt: skip
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

    def queue_responses(self, command_uuid, system_id, response_ids, now) -> None:
        dialect = self.connection.dialect.name
        parameters = {"command_uuid": command_uuid, "system_id": system_id, "now": now}
        self.connection.execute(_QUEUE_EXPORTS[dialect], {**parameters, "ids": list(response_ids), "external_data": {}})
        self.connection.execute(_QUEUE_EVENTS[dialect], {**parameters, "data": {}})


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
