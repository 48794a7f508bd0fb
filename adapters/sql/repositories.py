"""SQLAlchemy implementations of the repositories and the command log.

Statements are built once, with bound parameters, at import, and compiled once per
dialect (driver_sql.py): building a statement and its cache key, and SQLAlchemy's own
execution path, cost more than running it on SQLite, and these run on every command.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from adapters.sql.driver_sql import DriverStatement, on_its_own
from adapters.sql.queue_signals import pg_notify_once
from adapters.sql.tables import commands, export_events, exports, external_systems, responses
from application.ports import (
    CommandFacts,
    CommandLog,
    ExportRepository,
    ExportResponsesFacts,
    LoggedCommand,
    Received,
)
from domain.exports import queue_response_export
from domain.external_systems import ExternalSystem
from domain.results import envelope, result_from_envelope

# Only accepted commands are logged, and an accepted reply is always a 202 with this type.
_ACCEPTED_STATUS = 202
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class _IdArray(sa.types.TypeDecorator):
    """Ids sent to PostgreSQL as the text of an array and cast there to bigint[].

    psycopg dumps a list as an array element by element, in Python: 15 ms for 10,000
    ids, twice per command. Their text is one string, made in about a millisecond.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return "{" + ",".join(map(str, map(int, value))) + "}"

    def bind_expression(self, bindvalue):
        return sa.cast(bindvalue, ARRAY(sa.BigInteger))


def _in_ids(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement[bool]:
    """`column IN :ids` with one bound parameter, whatever the number of ids.

    On PostgreSQL as a semi-join on the unnested array, not `= ANY(:ids)`: the array,
    cast from text at run time, is no constant to the planner, which then cannot hash
    it, and on a table it has no statistics for (freshly loaded) it may choose to scan
    every row against every id: 10,000 ids over 150,000 responses took four minutes.
    """
    if dialect == "postgresql":
        ids = sa.func.unnest(sa.bindparam("ids", type_=_IdArray())).table_valued("value").render_derived()
        return column.in_(sa.select(ids.c.value))
    values = sa.func.json_each(sa.bindparam("ids", type_=sa.JSON)).table_valued("value")
    return column.in_(sa.select(values.c.value))


def _typed(name: str, column: sa.Column) -> sa.BindParameter:
    return sa.bindparam(name, type_=column.type)


_SYSTEM_COLUMNS = [c for c in external_systems.c if c.name not in ("created_at", "updated_at")]
_BOOLEAN_COLUMNS = frozenset(c.name for c in _SYSTEM_COLUMNS if isinstance(c.type, sa.Boolean))


def _system_object(dialect: str) -> sa.ColumnElement:
    """The system's row as one JSON object (null when there is none): one result column
    where there were eleven, each of which costs psycopg a description object per query."""
    build = sa.func.json_build_object if dialect == "postgresql" else sa.func.json_object
    pairs: list[sa.ColumnElement] = []
    for column in _SYSTEM_COLUMNS:
        # SQLite keeps office_codes as JSON text: json() embeds it as an array, not a string.
        value = sa.func.json(column) if dialect == "sqlite" and column.name == "office_codes" else column
        pairs += [sa.literal_column(f"'{column.name}'"), value]
    built = build(*pairs)
    return sa.case((external_systems.c.id.is_(None), sa.null()), else_=built)


def _facts(dialect: str) -> sa.Select:
    """One row: the command logged under :uuid, or else the system and the existing ids.

    The log and the system are outer-joined to a one-row table; the system and the ids
    are read only when no command is logged (the reply then comes from the log).
    """
    if dialect == "postgresql":
        ids = sa.func.array_agg(responses.c.id, type_=ARRAY(sa.BigInteger))
    else:
        ids = sa.func.json_group_array(responses.c.id, type_=sa.JSON)
    existing = sa.select(ids).where(_in_ids(responses.c.id, dialect), commands.c.id.is_(None)).scalar_subquery()
    one_row = sa.select(sa.literal(1).label("one")).subquery("one_row")
    joined = one_row.outerjoin(commands, commands.c.id == _typed("uuid", commands.c.id)).outerjoin(
        external_systems,
        sa.and_(external_systems.c.id == _typed("system_id", external_systems.c.id), commands.c.id.is_(None)),
    )
    logged = [commands.c.id.label("logged_id"), commands.c.command, commands.c.fingerprint, commands.c.response_body]
    return sa.select(*logged, _system_object(dialect).label("system"), existing.label("existing_ids")).select_from(
        joined
    )


_FACTS = {dialect: DriverStatement(_facts(dialect)) for dialect in ("postgresql", "sqlite")}


def _id_values(dialect: str) -> sa.TableValuedAlias:
    """The `ids` parameter as rows of one column, `value`, in the order given."""
    if dialect == "postgresql":
        return sa.func.unnest(sa.bindparam("ids", type_=_IdArray())).table_valued("value").render_derived()
    return sa.func.json_each(sa.bindparam("ids", type_=sa.JSON)).table_valued("value")


# A version 4 UUID made by the database for each queued event.
NEW_UUID = {
    "postgresql": sa.func.gen_random_uuid(),
    "sqlite": sa.literal_column(
        "lower(hex(randomblob(4)) || hex(randomblob(2)) || '4' || substr(hex(randomblob(2)), 2) "
        "|| substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || hex(randomblob(6)))"
    ),
}
_EXPORT_COLUMNS = [
    "resource_type",
    "resource_id",
    "external_system_id",
    "state",
    "percent_complete",
    "message",
    "external_data",
    "command_uuid",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
]
_EVENT_COLUMNS = ["export_id", "uuid", "state", "percent_complete", "message", "data", "created_at", "updated_at"]


def _queue_exports(dialect: str, after: sa.CTE | None = None):
    """Insert the queued exports; a response with an export to the system still pending
    is skipped by the partial unique index that allows one (`ON CONFLICT DO NOTHING`),
    which also waits for a concurrent writer of the same export to end.

    `after`, a data-modifying CTE, runs to its end before any export is inserted: its
    test is an uncorrelated subquery, which PostgreSQL runs once, first (an InitPlan).
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = sa.select(
        _typed("resource_type", exports.c.resource_type),
        _id_values(dialect).c.value,
        _typed("system_id", exports.c.external_system_id),
        _typed("state", exports.c.state),
        _typed("percent_complete", exports.c.percent_complete),
        _typed("message", exports.c.message),
        _typed("external_data", exports.c.external_data),
        _typed("command_uuid", exports.c.command_uuid),
        sa.literal(0),
        _typed("now", exports.c.next_attempt_at),
        _typed("now", exports.c.created_at),
        _typed("now", exports.c.updated_at),
    )
    # SQLite reads `ON CONFLICT` after a FROM without WHERE as a join's ON: a WHERE always.
    rows = rows.where(sa.true() if after is None else sa.exists(sa.select(after.c.id)))
    return insert(exports).from_select(_EXPORT_COLUMNS, rows).on_conflict_do_nothing()


def _event_rows(dialect: str, export_ids: sa.ColumnElement, notify: bool) -> sa.Select:
    percent_complete: sa.ColumnElement = _typed("event_percent_complete", export_events.c.percent_complete)
    if notify and dialect == "postgresql":
        # The percent complete comes through pg_notify_once(): the workers LISTENing hear
        # of the new exports when this commits, at no round trip more.
        percent_complete = pg_notify_once(percent_complete)
    return sa.select(
        export_ids,
        NEW_UUID[dialect],
        _typed("event_state", export_events.c.state),
        percent_complete,
        _typed("event_message", export_events.c.message),
        _typed("data", export_events.c.data),
        _typed("now", export_events.c.created_at),
        _typed("now", export_events.c.updated_at),
    )


_LOG_COLUMNS = [
    "id",
    "command",
    "fingerprint",
    "request_body",
    "request_headers",
    "response_body",
    "response_headers",
    "response_status",
]


def _log(dialect: str) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {name: _typed(name, commands.c[name]) for name in _LOG_COLUMNS}
    logged_at = {name: _typed("logged_at", commands.c[name]) for name in ("created_at", "updated_at")}
    return insert(commands).values({**values, **logged_at})


def _queue(dialect: str, notify: bool = True, log: bool = False) -> list[sa.Executable]:
    """The statements that queue exports and their events (first logging the command,
    when `log`), set-based: no Python per row.

    The values of every row but its response id (and its event's uuid) are bound, taken
    from the domain's queued export and event (`_queued_values`), as the fakes write them.
    On PostgreSQL one statement: the log row and the exports are inserted in WITH
    clauses, the log's first, and the events from the exports' RETURNING. SQLite has no
    INSERT in a WITH: the events select the exports of this command.
    """
    if dialect == "postgresql":
        logged = _log(dialect).returning(commands.c.id).cte("logged") if log else None
        queued = _queue_exports(dialect, after=logged).returning(exports.c.id).cte("queued")
        events = _event_rows(dialect, queued.c.id, notify).select_from(queued)
        insert = sa.insert(export_events)
        if logged is not None:
            insert = insert.add_cte(logged)
        return [insert.add_cte(queued).from_select(_EVENT_COLUMNS, events)]
    events = _event_rows(dialect, exports.c.id, notify).where(
        exports.c.command_uuid == _typed("command_uuid", exports.c.command_uuid),
        exports.c.external_system_id == _typed("system_id", exports.c.external_system_id),
    )
    queue = [_queue_exports(dialect), sa.insert(export_events).from_select(_EVENT_COLUMNS, events)]
    return [_log(dialect), *queue] if log else queue


def _driver_statements(statements: list[sa.Executable]) -> list[DriverStatement]:
    return [DriverStatement(statement) for statement in statements]


_QUEUE = {dialect: _driver_statements(_queue(dialect)) for dialect in ("postgresql", "sqlite")}
# An accepted command: its log row, its exports and their events. PostgreSQL: one statement.
ACCEPT = {dialect: _driver_statements(_queue(dialect, log=True)) for dialect in ("postgresql", "sqlite")}


class SqlAlchemyCommandFacts(CommandFacts):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def for_export_responses(self, uuid: str, system_id: int, response_ids: Collection[int]) -> ExportResponsesFacts:
        parameters = {"uuid": uuid, "system_id": system_id, "ids": list(response_ids)}
        row = _FACTS[self.connection.dialect.name].execute(self.connection, parameters).one()
        return _facts_of(uuid, tuple(row))


class DriverCommandFacts(CommandFacts):
    """The same facts, read on a pooled driver connection (reading.py says why), with
    `cursor` when given, else a cursor of its own."""

    def __init__(self, pooled, dialect: sa.Dialect, cursor=None):
        self.pooled = pooled
        self.dialect = dialect
        self.cursor = cursor

    def for_export_responses(self, uuid: str, system_id: int, response_ids: Collection[int]) -> ExportResponsesFacts:
        parameters = {"uuid": uuid, "system_id": system_id, "ids": list(response_ids)}
        row = _FACTS[self.dialect.name].one_on_driver(self.pooled, self.dialect, parameters, self.cursor)
        return _facts_of(uuid, row)


def _facts_of(uuid: str, row: tuple) -> ExportResponsesFacts:
    # Raw driver values: the system and, on SQLite, the ids come as JSON text.
    logged_id, name, fingerprint, response_body, system, existing = row
    if logged_id is not None:
        return ExportResponsesFacts(_logged(uuid, name, fingerprint, response_body))
    if isinstance(existing, str):
        existing = json.loads(existing)
    return ExportResponsesFacts(None, _system(system), frozenset(existing or ()))


def _system(found: dict | str | None) -> ExternalSystem | None:
    if found is None:
        return None
    values = json.loads(found) if isinstance(found, str) else found
    for name in _BOOLEAN_COLUMNS:  # SQLite's JSON has 0 and 1 for them
        if values[name] is not None:
            values[name] = bool(values[name])
    return ExternalSystem(**values)


def _logged(uuid: str, name: str | None, fingerprint: str | None, response_body: str) -> LoggedCommand:
    if fingerprint is None:  # a command of the Rails side's, which logs none of these
        return LoggedCommand(uuid, None, None, None)
    result = result_from_envelope(json.loads(response_body), name)
    return LoggedCommand(uuid, name, fingerprint, result)


class SqlAlchemyExportRepository(ExportRepository):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def queue_responses(self, command_uuid, system_id, response_ids, now) -> None:
        parameters = {**_queued_values(command_uuid, system_id, now), "ids": list(response_ids)}
        for statement in _QUEUE[self.connection.dialect.name]:
            statement.execute(self.connection, parameters)


def _queued_values(command_uuid: str, system_id: int, now: datetime) -> dict:
    """The bound values of `_QUEUE`: the domain's queued export of a response, and its event.

    The response id and the event's uuid differ by row: the statement supplies them.
    """
    export = queue_response_export(0, system_id, command_uuid, now, event_uuid="")
    (event,) = export.events
    return {
        "resource_type": export.resource_type,
        "system_id": export.external_system_id,
        "state": export.state.value,
        "percent_complete": export.percent_complete,
        "message": export.message,
        "external_data": export.external_data,
        "command_uuid": export.command_uuid,
        "now": export.created_at,
        "event_state": event.state.value,
        "event_percent_complete": event.percent_complete,
        "event_message": event.message,
        "data": event.data,
    }


def _log_values(command: LoggedCommand) -> dict:
    body = json.dumps(envelope(command.result), separators=(",", ":"))
    # As the original logged it: the request as received, the reply as sent.
    received = command.received or Received(command.fingerprint)
    return {
        "id": command.uuid,
        "command": command.name,
        "fingerprint": command.fingerprint,
        "request_body": received.body,
        "request_headers": received.headers,
        "response_body": body,
        "response_headers": _JSON_HEADERS,
        "response_status": _ACCEPTED_STATUS,
        "logged_at": datetime.now(UTC),
    }


class SqlAlchemyCommandLog(CommandLog):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def accept(self, command, system_id, response_ids, now) -> None:
        parameters = accept_parameters(command, system_id, response_ids, now)
        statements = ACCEPT[self.connection.dialect.name]
        with on_its_own(self.connection, alone=len(statements) == 1):
            for statement in statements:
                statement.execute(self.connection, parameters)


def accept_parameters(command: LoggedCommand, system_id: int, response_ids: Collection[int], now: datetime) -> dict:
    """The values of `ACCEPT`'s statements for one accepted command."""
    return {**_log_values(command), **_queued_values(command.uuid, system_id, now), "ids": list(response_ids)}
