"""The export reader on SQLAlchemy: a fixed number of queries per call, whatever the page size."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.exc

from adapters.sql.errors import translating
from adapters.sql.tables import export_events, exports
from application.export_status import (
    EventView,
    ExportFilters,
    ExportPage,
    ExportReader,
    ExportView,
    zero_counts,
)
from domain.exports import RESPONSE, ExportState

_EXPORT_COLUMNS = [
    exports.c.id,
    exports.c.state,
    exports.c.percent_complete,
    exports.c.message,
    exports.c.external_data,
    exports.c.resource_type,
    exports.c.resource_id,
    exports.c.external_system_id,
    exports.c.command_uuid,
    exports.c.attempts,
    exports.c.next_attempt_at,
    exports.c.created_at,
    exports.c.updated_at,
]
# The original's `exports.state` may be null (its default, 'created', is only a default):
# such an export of the Rails side's has not been queued, as one in `created`.
_ROW_DEFAULT_STATE = ExportState.CREATED.value
_EVENT_COLUMNS = [
    export_events.c.uuid,
    export_events.c.state,
    export_events.c.percent_complete,
    export_events.c.message,
    export_events.c.data,
    export_events.c.created_at,
]


class SqlAlchemyExportReader(ExportReader):
    """Reads on its own read-only connection: on SQLite that begins a plain (shared) transaction,
    so watching exports never holds up the workers writing them."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def _connect(self) -> contextlib.AbstractContextManager[sa.Connection]:
        return reading_connection(self.engine)

    def get(self, export_id: int) -> ExportView | None:
        with self._connect() as connection:
            row = connection.execute(sa.select(*_EXPORT_COLUMNS).where(exports.c.id == export_id)).first()
            if row is None:
                return None
            events = connection.execute(
                sa.select(*_EVENT_COLUMNS).where(export_events.c.export_id == export_id).order_by(export_events.c.id)
            ).all()
        return _export_view(row, tuple(_event_view(event) for event in events))

    def find(self, filters: ExportFilters, page: int, per_page: int) -> ExportPage:
        conditions = _conditions(filters)
        offset = (page - 1) * per_page
        with self._connect() as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(exports).where(*conditions)).scalar_one()
            rows = []
            # Past the last page there is nothing to fetch (and the offset may not even fit a BIGINT).
            if offset < total:
                query = (
                    sa.select(*_EXPORT_COLUMNS)
                    .where(*conditions)
                    .order_by(exports.c.created_at.desc(), exports.c.id.desc())
                    .limit(per_page)
                    .offset(offset)
                )
                rows = connection.execute(query).all()
        return ExportPage(tuple(_export_view(row, ()) for row in rows), page, per_page, total)

    def count_by_state(self, command_uuid: str | None = None) -> dict[str, int]:
        state = sa.func.coalesce(exports.c.state, _ROW_DEFAULT_STATE)
        query = sa.select(state, sa.func.count()).group_by(state)
        if command_uuid is not None:
            query = query.where(exports.c.command_uuid == command_uuid)
        with self._connect() as connection:
            counted = {state: number for state, number in connection.execute(query)}
        return {**zero_counts(), **counted}


@contextlib.contextmanager
def reading_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read-only connection, its database errors in the ports' terms."""
    with translating(), engine.connect().execution_options(read_only=True) as connection:
        yield connection


def _conditions(filters: ExportFilters) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if filters.response_id is not None:
        conditions += [exports.c.resource_type == RESPONSE, exports.c.resource_id == filters.response_id]
    if filters.external_system_id is not None:
        conditions.append(exports.c.external_system_id == filters.external_system_id)
    if filters.state is not None:
        state = exports.c.state == filters.state.value
        if filters.state.value == _ROW_DEFAULT_STATE:
            state = sa.or_(state, exports.c.state.is_(None))
        conditions.append(state)
    if filters.command_uuid is not None:
        conditions.append(exports.c.command_uuid == filters.command_uuid)
    return conditions


def utc(value: datetime | None) -> datetime | None:
    """`value` as aware UTC. SQLite keeps no offset and hands back naive values: we only ever write UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _export_view(row: sa.Row, events: tuple[EventView, ...]) -> ExportView:
    return ExportView(
        id=row.id,
        state=ExportState(row.state or _ROW_DEFAULT_STATE),
        percent_complete=row.percent_complete,
        message=row.message,
        external_data=row.external_data or {},
        resource_type=row.resource_type,
        response_id=row.resource_id,
        external_system_id=row.external_system_id,
        command_uuid=row.command_uuid,
        attempts=row.attempts,
        next_attempt_at=utc(row.next_attempt_at),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        events=events,
    )


def _event_view(row: sa.Row) -> EventView:
    return EventView(
        uuid=row.uuid,
        state=None if row.state is None else ExportState(row.state),
        percent_complete=row.percent_complete,
        message=row.message,
        data=row.data or {},
        created_at=utc(row.created_at),
    )
