"""The operators' actions on SQLAlchemy: conditional UPDATEs, and each system's controls.

Every write says in its WHERE what the action needs of the row (this service's, in a
state the action takes), so the database decides between racers: on PostgreSQL a
second writer waits for the first and then finds the row no longer matches (a worker's
claim holds the row with FOR UPDATE, so a cancel racing it sees `in_progress`); on
SQLite writers run one at a time (engine.py begins every write transaction IMMEDIATE).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.repositories import NEW_UUID
from adapters.sql.rows import row
from adapters.sql.tables import PENDING, export_events, exports, external_systems, system_controls
from application.operations_ports import ExportActions, RetryFilters, SystemControls
from domain.exports import ExportEvent, ExportState
from domain.operations import CANCELLABLE_STATES, RETRYABLE_STATES, ExportStanding

_ID = sa.bindparam("export_id", type_=exports.c.id.type)
_NOW = sa.bindparam("now", type_=exports.c.updated_at.type)
_OWNED = exports.c.command_uuid.is_not(None)  # tables.OWNED
_RETRYABLE = sorted(state.value for state in RETRYABLE_STATES)
_CANCELLABLE = sorted(state.value for state in CANCELLABLE_STATES)
_EVENT_COLUMNS = ["export_id", "uuid", "state", "percent_complete", "message", "data", "created_at", "updated_at"]


def _siblings(*conditions: sa.ColumnElement[bool]) -> sa.Exists:
    """Another export of this service, of the same response to the same system, matching `conditions`."""
    sibling = exports.alias()
    return sa.exists().where(
        sibling.c.resource_type == exports.c.resource_type,
        sibling.c.resource_id == exports.c.resource_id,
        sibling.c.external_system_id == exports.c.external_system_id,
        sibling.c.command_uuid.is_not(None),
        sibling.c.id != exports.c.id,
        *[condition(sibling) for condition in conditions],
    )


def _pending(table) -> sa.ColumnElement[bool]:
    return table.c.state.in_(PENDING)


# Queued again, due now, with a fresh retry schedule: no attempt spent, no claim, no cancel asked.
_REQUEUED = {
    "state": ExportState.QUEUED.value,
    "percent_complete": 0,
    "message": sa.bindparam("message", type_=exports.c.message.type),
    "attempts": 0,
    "next_attempt_at": _NOW,
    "claim_token": None,
    "claimed_until": None,
    "cancel_requested_by": None,
    "updated_at": _NOW,
}
_REQUEUE = (
    sa.update(exports)
    .where(exports.c.id == _ID, _OWNED, exports.c.state.in_(_RETRYABLE), ~_siblings(_pending))
    .values(**_REQUEUED)
)
_CANCEL = (
    sa.update(exports)
    .where(exports.c.id == _ID, _OWNED, exports.c.state.in_(_CANCELLABLE))
    .values(
        state=ExportState.FAILED.value,
        percent_complete=0,
        message=sa.bindparam("message", type_=exports.c.message.type),
        next_attempt_at=None,
        updated_at=_NOW,
    )
)
_REQUEST_CANCEL = (
    sa.update(exports)
    .where(
        exports.c.id == _ID,
        _OWNED,
        exports.c.state == ExportState.IN_PROGRESS.value,
        exports.c.cancel_requested_by.is_(None),
    )
    .values(cancel_requested_by=sa.bindparam("actor", type_=exports.c.cancel_requested_by.type), updated_at=_NOW)
)
_sibling = exports.alias("pending_sibling")
_STANDING = sa.select(
    exports.c.state,
    _OWNED.label("owned"),
    sa.select(_sibling.c.id)
    .where(
        _sibling.c.resource_type == exports.c.resource_type,
        _sibling.c.resource_id == exports.c.resource_id,
        _sibling.c.external_system_id == exports.c.external_system_id,
        _sibling.c.command_uuid.is_not(None),
        _sibling.c.state.in_(PENDING),
        _sibling.c.id != exports.c.id,
    )
    .limit(1)
    .scalar_subquery()
    .label("pending_sibling_id"),
).where(exports.c.id == _ID)
_RECORD_EVENT = sa.insert(export_events)


class SqlAlchemyExportActions(ExportActions):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def standing(self, export_id: int) -> ExportStanding | None:
        row = self.connection.execute(_STANDING, {"export_id": export_id}).first()
        if row is None:
            return None
        # The original's state may be null: an export it has not queued, as one in `created`.
        state = ExportState(row.state or ExportState.CREATED.value)
        return ExportStanding(state, bool(row.owned), row.pending_sibling_id)

    def requeue(self, export_id, event, now) -> bool:
        return self._change(_REQUEUE, export_id, event, now, message=event.message)

    def cancel(self, export_id, event, now) -> bool:
        return self._change(_CANCEL, export_id, event, now, message=event.message)

    def request_cancel(self, export_id, event, actor, now) -> bool:
        return self._change(_REQUEST_CANCEL, export_id, event, now, actor=actor)

    def _change(self, statement, export_id: int, event: ExportEvent, now, **values) -> bool:
        changed = self.connection.execute(statement, {"export_id": export_id, "now": now, **values}).rowcount
        if changed != 1:
            return False
        self.connection.execute(_RECORD_EVENT, row(event, export_id=export_id, created_at=now, updated_at=now))
        return True

    def requeue_matching(self, filters: RetryFilters, event: ExportEvent, now) -> int:
        dialect = self.connection.dialect.name
        update = (
            sa.update(exports)
            .where(*_matching(exports, filters), ~_siblings(_pending), ~_siblings(_newer_failed(filters)))
            .values(**_REQUEUED)
            .returning(exports.c.id)
        )
        parameters = {"now": now, "message": event.message, "event_message": event.message, "data": event.data}
        if dialect == "postgresql":
            # One statement: the events are inserted from the UPDATE's RETURNING.
            requeued = update.cte("requeued")
            events = _event_rows(dialect, event, requeued.c.id).select_from(requeued)
            recorded = sa.insert(export_events).from_select(_EVENT_COLUMNS, events).cte("recorded")
            # PostgreSQL runs every data-modifying WITH, referenced or not; the count is the UPDATE's.
            count = sa.select(sa.func.count()).select_from(requeued).add_cte(recorded)
            return self.connection.execute(count, parameters).scalar_one()
        # SQLite has no UPDATE in a WITH: the events are inserted for the ids it returned.
        ids = list(self.connection.scalars(update, parameters))
        if ids:
            values = sa.func.json_each(sa.bindparam("ids", type_=sa.JSON)).table_valued("value")
            events = _event_rows(dialect, event, values.c.value).select_from(values)
            statement = sa.insert(export_events).from_select(_EVENT_COLUMNS, events)
            self.connection.execute(statement, {**parameters, "ids": ids})
        return len(ids)


def _event_rows(dialect: str, event: ExportEvent, export_ids: sa.ColumnElement) -> sa.Select:
    """`event` for each of `export_ids`, each under a uuid the database makes."""
    return sa.select(
        export_ids,
        NEW_UUID[dialect],
        sa.literal(event.state.value),
        sa.literal(event.percent_complete, type_=export_events.c.percent_complete.type),
        sa.bindparam("event_message", type_=export_events.c.message.type),
        sa.bindparam("data", type_=export_events.c.data.type),
        sa.bindparam("now", type_=export_events.c.created_at.type),
        sa.bindparam("now", type_=export_events.c.updated_at.type),
    )


def _matching(table, filters: RetryFilters) -> list[sa.ColumnElement[bool]]:
    states = _RETRYABLE if filters.state is None else [filters.state.value]
    conditions = [table.c.command_uuid.is_not(None), table.c.state.in_(states)]
    if filters.external_system_id is not None:
        conditions.append(table.c.external_system_id == filters.external_system_id)
    if filters.command_uuid is not None:
        conditions.append(table.c.command_uuid == filters.command_uuid)
    return conditions


def _newer_failed(filters: RetryFilters):
    # Two failed exports of one response to one system cannot both be queued (one pending
    # export each): of those the filters match, only the newest is.
    def condition(sibling) -> sa.ColumnElement[bool]:
        return sa.and_(
            sibling.c.id > exports.c.id, sibling.c.state == ExportState.FAILED.value, *_matching(sibling, filters)
        )

    return condition


_SYSTEM_EXISTS = sa.select(external_systems.c.id).where(external_systems.c.id == sa.bindparam("system_id"))
_RESUME = (
    sa.update(system_controls)
    .where(system_controls.c.external_system_id == sa.bindparam("system_id"))
    .values(paused_at=None, paused_by=None, updated_at=_NOW)
)
_DUE_NOW = (
    sa.update(exports)
    .where(
        exports.c.external_system_id == sa.bindparam("system_id"),
        _OWNED,
        exports.c.state.in_([ExportState.QUEUED.value, ExportState.ERRORING.value]),
        sa.or_(exports.c.next_attempt_at.is_(None), exports.c.next_attempt_at > _NOW),
    )
    .values(next_attempt_at=_NOW)
)


def _pause(dialect: str) -> sa.Executable:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(system_controls)
    statement = insert.values(
        external_system_id=sa.bindparam("system_id"),
        paused_at=_NOW,
        paused_by=sa.bindparam("actor", type_=system_controls.c.paused_by.type),
        updated_at=_NOW,
    )
    # Pausing a paused system changes nothing: who paused it first, and when, stand.
    already = system_controls.c.paused_at.is_not(None)
    return statement.on_conflict_do_update(
        index_elements=[system_controls.c.external_system_id],
        set_={
            "paused_at": sa.case((already, system_controls.c.paused_at), else_=statement.excluded.paused_at),
            "paused_by": sa.case((already, system_controls.c.paused_by), else_=statement.excluded.paused_by),
            "updated_at": statement.excluded.updated_at,
        },
    )


_PAUSE = {dialect: _pause(dialect) for dialect in ("postgresql", "sqlite")}


class SqlAlchemySystemControls(SystemControls):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def exists(self, system_id: int) -> bool:
        return self.connection.execute(_SYSTEM_EXISTS, {"system_id": system_id}).first() is not None

    def pause(self, system_id: int, actor: str, now) -> None:
        self.connection.execute(
            _PAUSE[self.connection.dialect.name], {"system_id": system_id, "actor": actor, "now": now}
        )

    def resume(self, system_id: int, now) -> int:
        self.connection.execute(_RESUME, {"system_id": system_id, "now": now})
        return self.connection.execute(_DUE_NOW, {"system_id": system_id, "now": now}).rowcount
