"""The system reader on SQLAlchemy: two statements, whatever the number of systems."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from adapters.sql.export_views import reading_connection, utc
from adapters.sql.tables import exports, external_systems, system_controls
from application.system_status import CircuitView, SystemReader, SystemView, ThrottleView, zero_system_counts

_CONTROLS = system_controls.c
_SYSTEMS = (
    sa.select(
        external_systems.c.id,
        external_systems.c.name,
        external_systems.c.reference,
        _CONTROLS.paused_at,
        _CONTROLS.paused_by,
        _CONTROLS.circuit_state,
        _CONTROLS.consecutive_failures,
        _CONTROLS.circuit_opened_at,
        _CONTROLS.next_probe_at,
        _CONTROLS.last_failure,
        _CONTROLS.throttled_until,
        _CONTROLS.throttle_rate,
        _CONTROLS.throttle_cut_at,
    )
    .select_from(external_systems.outerjoin(system_controls, _CONTROLS.external_system_id == external_systems.c.id))
    .order_by(external_systems.c.id)
)
_COUNTS = sa.select(exports.c.external_system_id, exports.c.state, sa.func.count()).group_by(
    exports.c.external_system_id, exports.c.state
)
_SYSTEM_ID = sa.bindparam("system_id", type_=external_systems.c.id.type)


class SqlAlchemySystemReader(SystemReader):
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def _connect(self) -> contextlib.AbstractContextManager[sa.Connection]:
        return reading_connection(self.engine)

    def systems(self) -> tuple[SystemView, ...]:
        with self._connect() as connection:
            rows = connection.execute(_SYSTEMS).all()
            counts = connection.execute(_COUNTS).all()
        return _views(rows, counts)

    def system(self, system_id: int) -> SystemView | None:
        with self._connect() as connection:
            rows = connection.execute(
                _SYSTEMS.where(external_systems.c.id == _SYSTEM_ID), {"system_id": system_id}
            ).all()
            counts = connection.execute(
                _COUNTS.where(exports.c.external_system_id == _SYSTEM_ID), {"system_id": system_id}
            ).all()
        views = _views(rows, counts)
        return views[0] if views else None


def _views(rows, counts) -> tuple[SystemView, ...]:
    by_system: dict[int, dict[str, int]] = {}
    for system_id, state, number in counts:
        tally = by_system.setdefault(system_id, zero_system_counts())
        if state in tally:  # an export of the Rails side's not yet queued (created, or null) is not counted
            tally[state] += number
    return tuple(_view(row, by_system.get(row.id, zero_system_counts())) for row in rows)


def _view(row: sa.Row, counts: dict[str, int]) -> SystemView:
    circuit = CircuitView(
        state=row.circuit_state or "closed",  # no control row: running and closed
        consecutive_failures=row.consecutive_failures or 0,
        opened_at=utc(row.circuit_opened_at),
        next_probe_at=utc(row.next_probe_at),
        last_failure=row.last_failure,
    )
    throttle = ThrottleView(utc(row.throttled_until), row.throttle_rate, utc(row.throttle_cut_at))
    return SystemView(row.id, row.name, row.reference, utc(row.paused_at), row.paused_by, circuit, throttle, counts)
