"""Each external system's circuit breaker on SQLAlchemy, in its control row
(export_responses_system_controls; no row is a closed circuit).

Workers share the breaker through the row: a circuit is read under lock when an
attempt ends, and a probe is handed out by one conditional UPDATE, which of concurrent
workers only one wins (on PostgreSQL the loser re-reads the row after the winner's
commit and no longer matches; SQLite has one writer at a time).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.queue import IS_DUE, NOT_CLOSED, NOW
from adapters.sql.tables import exports, system_controls
from application.ports import CircuitBreakers
from domain.circuits import Circuit, CircuitState

_START_PROBES = (
    sa.update(system_controls)
    .where(
        NOT_CLOSED,
        system_controls.c.next_probe_at <= NOW,
        system_controls.c.paused_at.is_(None),
        # A probe waits for the throttle's pause too: a 429 is no answer to probe with.
        sa.or_(system_controls.c.throttled_until.is_(None), system_controls.c.throttled_until <= NOW),
        # OFFSET 0 keeps PostgreSQL from turning the EXISTS into a join that reads every
        # due export first (its plan when the statistics lag a queued batch): the exports
        # are looked up only for a control row that is due a probe, almost never.
        sa.exists(
            sa.select(exports.c.id)
            .where(exports.c.external_system_id == system_controls.c.external_system_id, IS_DUE)
            .offset(sa.literal_column("0"))
        ),
    )
    .values(
        circuit_state=CircuitState.HALF_OPEN.value,
        next_probe_at=sa.bindparam("hold_until", type_=system_controls.c.next_probe_at.type),
        updated_at=NOW,
    )
    .returning(system_controls.c.external_system_id)
)
_CIRCUIT_COLUMNS = {
    "circuit_state": system_controls.c.circuit_state,
    "consecutive_failures": system_controls.c.consecutive_failures,
    "circuit_opened_at": system_controls.c.circuit_opened_at,
    "next_probe_at": system_controls.c.next_probe_at,
    "probe_interval_seconds": system_controls.c.probe_interval_seconds,
    "last_failure": system_controls.c.last_failure,
}
_CIRCUIT = (
    sa.select(*_CIRCUIT_COLUMNS.values())
    .where(system_controls.c.external_system_id == sa.bindparam("system_id"))
    .with_for_update()
)


def _save_circuit(dialect) -> sa.Executable:
    statement = dialect.insert(system_controls)
    changed = [*_CIRCUIT_COLUMNS, "updated_at"]
    return statement.on_conflict_do_update(
        index_elements=[system_controls.c.external_system_id],
        set_={name: statement.excluded[name] for name in changed},
    )


_SAVE_CIRCUIT = {"postgresql": _save_circuit(postgresql), "sqlite": _save_circuit(sqlite)}


class SqlAlchemyCircuitBreakers(CircuitBreakers):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def circuit(self, system_id) -> Circuit:
        row = self.connection.execute(_CIRCUIT, {"system_id": system_id}).mappings().first()
        if row is None:
            return Circuit()
        return Circuit(
            state=CircuitState(row["circuit_state"]),
            consecutive_failures=row["consecutive_failures"],
            opened_at=row["circuit_opened_at"],
            next_probe_at=row["next_probe_at"],
            probe_interval_seconds=row["probe_interval_seconds"],
            last_failure=row["last_failure"],
        )

    def save(self, system_id, circuit, now) -> None:
        values = {
            "external_system_id": system_id,
            "circuit_state": circuit.state.value,
            "consecutive_failures": circuit.consecutive_failures,
            "circuit_opened_at": circuit.opened_at,
            "next_probe_at": circuit.next_probe_at,
            "probe_interval_seconds": circuit.probe_interval_seconds,
            "last_failure": circuit.last_failure,
            "updated_at": now,
        }
        self.connection.execute(_SAVE_CIRCUIT[self.connection.dialect.name], values)

    def start_probes(self, now, hold_until) -> list[int]:
        return list(self.connection.scalars(_START_PROBES, {"now": now, "hold_until": hold_until}))
