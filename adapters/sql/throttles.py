"""Each external system's throttle on SQLAlchemy, in its control row
(export_responses_system_controls; no row, or empty columns, is no throttle).

Workers share it through the row: it is read under lock when a 429 is recorded, and
the paced systems' rows are locked by the claim that takes their slots, so that of
concurrent claims each takes slots after the other's (on SQLite, one writer at a time).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.queue import NOT_CLOSED, NOW, PACED_SINCE
from adapters.sql.tables import exports, system_controls
from application.ports import SystemThrottles
from domain.exports import ExportState
from domain.throttling import Throttle, claimable_at, paced_since

_C = system_controls.c
_COLUMNS = {
    "throttled_until": _C.throttled_until,
    "throttle_rate": _C.throttle_rate,
    "throttle_cut_at": _C.throttle_cut_at,
    "next_call_at": _C.next_call_at,
}
_THROTTLE = sa.select(*_COLUMNS.values()).where(_C.external_system_id == sa.bindparam("system_id")).with_for_update()
_PACED = (
    sa.select(_C.external_system_id, *_COLUMNS.values())
    .where(_C.throttle_cut_at > PACED_SINCE, _C.paused_at.is_(None), ~NOT_CLOSED)
    .order_by(_C.external_system_id)
    .with_for_update()
)
_IN_FLIGHT = sa.select(sa.func.count(), sa.func.min(exports.c.claimed_until)).where(
    exports.c.external_system_id == sa.bindparam("system_id"),
    exports.c.command_uuid.is_not(None),
    exports.c.state == ExportState.IN_PROGRESS.value,
    exports.c.claimed_until > NOW,
    exports.c.id.not_in(sa.bindparam("ended", expanding=True)),
)
# Held back until the pause ends (or, paced, until a slot is near): exports that will be due by then.
_RELEASED_AT = sa.case((_C.throttled_until > NOW, _C.throttled_until), else_=NOW)
_HOLDING = sa.select(*_COLUMNS.values()).where(
    sa.or_(_C.throttled_until > NOW, _C.throttle_cut_at > PACED_SINCE),
    _C.paused_at.is_(None),
    ~NOT_CLOSED,
    sa.exists().where(
        exports.c.external_system_id == _C.external_system_id,
        exports.c.command_uuid.is_not(None),
        exports.c.state.in_((ExportState.QUEUED.value, ExportState.ERRORING.value)),
        sa.or_(exports.c.next_attempt_at.is_(None), exports.c.next_attempt_at <= _RELEASED_AT),
    ),
)


def _save_throttle(dialect) -> sa.Executable:
    statement = dialect.insert(system_controls)
    return statement.on_conflict_do_update(
        index_elements=[_C.external_system_id],
        set_={name: statement.excluded[name] for name in [*_COLUMNS, "updated_at"]},
    )


_SAVE_THROTTLE = {"postgresql": _save_throttle(postgresql), "sqlite": _save_throttle(sqlite)}


def _throttle(row) -> Throttle:
    return Throttle(
        until=row.throttled_until, rate=row.throttle_rate, cut_at=row.throttle_cut_at, next_call_at=row.next_call_at
    )


class SqlAlchemySystemThrottles(SystemThrottles):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def throttle(self, system_id) -> Throttle:
        row = self.connection.execute(_THROTTLE, {"system_id": system_id}).first()
        return Throttle() if row is None else _throttle(row)

    def save(self, system_id, throttle, now) -> None:
        values = {
            "external_system_id": system_id,
            "throttled_until": throttle.until,
            "throttle_rate": throttle.rate,
            "throttle_cut_at": throttle.cut_at,
            "next_call_at": throttle.next_call_at,
            "updated_at": now,
        }
        self.connection.execute(_SAVE_THROTTLE[self.connection.dialect.name], values)

    def paced(self, now) -> dict[int, Throttle]:
        rows = self.connection.execute(_PACED, {"paced_since": paced_since(now)})
        return {row.external_system_id: _throttle(row) for row in rows}

    def claims_in_flight(self, system_id, now, ended=()) -> tuple[int, object]:
        parameters = {"system_id": system_id, "now": now, "ended": list(ended)}
        count, earliest = self.connection.execute(_IN_FLIGHT, parameters).one()
        return count, earliest

    def held_until(self, now):
        rows = self.connection.execute(_HOLDING, {"now": now, "paced_since": paced_since(now)})
        times = [at for at in (claimable_at(_throttle(row), now) for row in rows) if at is not None]
        return min(times, default=None)
