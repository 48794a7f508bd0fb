"""The export queue and offices on SQLAlchemy: claims with leases, fenced progress records.

Only exports this service queued (they name its command) are claimed, and so changed:
the Rails side's own exports, whatever their state, are its exporter's business.
On PostgreSQL, claims lock rows with FOR UPDATE SKIP LOCKED, so workers on many
machines never take the same export. Exports of a paused system, or of one whose
circuit breaker is not closed, are skipped by the claims but for one probe, which a
conditional UPDATE of the system's control row hands to one worker only. On SQLite every write transaction begins
IMMEDIATE (see engine.py): one writer at a time, which makes the claim just as safe.
Statements are built once, with bound parameters (see repositories.py for why).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.sql.rows import row
from adapters.sql.tables import (
    PENDING,
    export_events,
    exports,
    external_system_configurations,
    external_systems,
    offices,
    responses,
    system_controls,
)
from application.ports import ClaimedExport, ExportQueue, Holding, OfficeRepository
from domain.circuits import CircuitState
from domain.exports import RESPONSE, ExportState, Progress, ProgressReport
from domain.throttling import paced_since

NOW = sa.bindparam("now", type_=exports.c.next_attempt_at.type)
# A throttle cut after this is pacing its system (domain.throttling.paced_since).
PACED_SINCE = sa.bindparam("paced_since", type_=system_controls.c.throttle_cut_at.type)
_IDS = sa.bindparam("ids", expanding=True)


def _state_in(*states: str) -> sa.ColumnElement[bool]:
    """`state IN (...)` with literal values, as a partial index's predicate has them."""
    return exports.c.state.in_([sa.literal_column(repr(state)) for state in states])


_OWNED = exports.c.command_uuid.is_not(None)  # tables.OWNED
_WAITING = sa.and_(
    _state_in(ExportState.QUEUED.value, ExportState.ERRORING.value),
    sa.or_(exports.c.next_attempt_at.is_(None), exports.c.next_attempt_at <= NOW),
)
_ABANDONED = sa.and_(exports.c.state == ExportState.IN_PROGRESS.value, exports.c.claimed_until < NOW)
# The first two terms are ix_exports_due's predicate: they let the query read that index.
# They also keep the worker to the exports this service queued: never the Rails side's.
IS_DUE = sa.and_(_OWNED, _state_in(*PENDING), exports.c.resource_type == RESPONSE, sa.or_(_WAITING, _ABANDONED))
# Since when a due export has been due (an abandoned one: since its claim expired).
DUE_SINCE = sa.case(
    (exports.c.state == ExportState.IN_PROGRESS.value, exports.c.claimed_until),
    else_=sa.func.coalesce(exports.c.next_attempt_at, exports.c.created_at),
)
# A literal, not a bound parameter: the statement is compiled once, whole (see the top).
NOT_CLOSED = system_controls.c.circuit_state != sa.literal_column(repr(CircuitState.CLOSED.value))
# The systems whose exports the claim leaves to slots and probes: the controls are read
# once, hashed, and each due export read from the index in its order is checked against
# them, so the claim neither sorts nor reads every due export. (NOT EXISTS made PostgreSQL
# join and sort them all, 3 to 5 ms for 4,000, when it guessed the controls would leave
# few.) external_system_id is never null on either side, so NOT IN means NOT EXISTS.
# A system its throttle pauses or paces is held too: its exports are claimed by slots.
_HELD_SYSTEMS = sa.select(system_controls.c.external_system_id).where(
    sa.or_(
        system_controls.c.paused_at.is_not(None),
        NOT_CLOSED,
        system_controls.c.throttled_until > NOW,
        system_controls.c.throttle_cut_at > PACED_SINCE,
    ),
)


def _due(*terms: sa.ColumnElement[bool]) -> sa.Select:
    return (
        sa.select(exports.c.id)
        .where(IS_DUE, *terms)
        .order_by(exports.c.next_attempt_at, exports.c.id)
        .limit(sa.bindparam("limit"))
        .with_for_update(skip_locked=True, of=exports)
    )


_DUE = _due(exports.c.external_system_id.not_in(_HELD_SYSTEMS))
# A probe, or the exports of a paced system that its free slots allow.
_DUE_OF_SYSTEM = _due(exports.c.external_system_id == sa.bindparam("system_id"))
# Locked in the order of the ids: two groups of ends locking the same exports cannot deadlock.
_HOLDINGS = (
    sa.select(exports.c.id, exports.c.claim_token, exports.c.cancel_requested_by)
    .where(exports.c.id.in_(_IDS))
    .order_by(exports.c.id)
    .with_for_update()
)
_MAKE_DUE = (
    sa.update(exports)
    .where(
        exports.c.external_system_id == sa.bindparam("system_id"),
        _OWNED,
        _state_in(ExportState.QUEUED.value, ExportState.ERRORING.value),
        exports.c.next_attempt_at > NOW,
    )
    .values(next_attempt_at=NOW)
)
_CLAIM_VALUES = {
    "claim_token": sa.bindparam("token", type_=exports.c.claim_token.type),
    "claimed_until": sa.bindparam("until", type_=exports.c.claimed_until.type),
    "attempts": exports.c.attempts + 1,
}
_CLAIM = sa.update(exports).where(exports.c.id.in_(_IDS)).values(**_CLAIM_VALUES)
_PROGRESS_COLUMNS = ["state", "percent_complete", "message", "external_data"]
_CLAIMED_EXPORT_COLUMNS = ["id", "attempts", "resource_id", "external_system_id", "cancel_requested_by"]


def _claimed(claimed: sa.FromClause) -> sa.Select:
    """The claimed exports of `claimed` (the table, or the claim's RETURNING) as the
    worker gets them: with their response's case number and their system's settings."""
    case_type = (
        sa.select(external_system_configurations.c.value)
        .where(
            external_system_configurations.c.external_system_id == claimed.c.external_system_id,
            external_system_configurations.c.key == "case_type_id",
        )
        .scalar_subquery()
    )
    return (
        sa.select(
            claimed.c.id.label("export_id"),
            claimed.c.attempts.label("attempt"),
            claimed.c.resource_id.label("response_id"),
            responses.c.case_number,
            claimed.c.external_system_id,
            external_systems.c.reference.label("external_system_reference"),
            case_type.label("case_type_id"),
            external_systems.c.response_remote_office,
            claimed.c.cancel_requested_by,
            responses.c.id.is_not(None).label("response_exists"),
            *(claimed.c[name] for name in _PROGRESS_COLUMNS),
        )
        # Outer: an export whose response was deleted is claimed too, and fails.
        .outerjoin(responses, responses.c.id == claimed.c.resource_id)
        .join(external_systems, external_systems.c.id == claimed.c.external_system_id)
        .order_by(claimed.c.id)
    )


_CLAIMED = _claimed(exports).where(exports.c.id.in_(_IDS))
# What a claim is made of, but for its progress (read into a Progress).
_CLAIM_FIELDS = [column.name for column in _CLAIMED.selected_columns if column.name not in _PROGRESS_COLUMNS]
# On PostgreSQL, when neither a probe nor a paced system asks for its own: the due
# exports found, claimed and read back in one statement, one round trip instead of three.
# The search is a MATERIALIZED CTE, so it runs once: as a plain IN (subquery) PostgreSQL
# may make it the inner side of a nested loop and run it again for each row the UPDATE
# scans, each run skipping those already updated, and so claim every due export whatever
# the limit (BUG #15715; it did so after statistics taken of a queue of one). PostgreSQL
# keeps a CTE with FOR UPDATE apart anyway: MATERIALIZED says so where it is relied on.
_DUE_ONCE = _DUE.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
_CLAIM_DUE = _claimed(
    sa.update(exports)
    .where(exports.c.id.in_(sa.select(_DUE_ONCE.c.id)))
    .values(**_CLAIM_VALUES)
    .returning(*(exports.c[name] for name in [*_CLAIMED_EXPORT_COLUMNS, *_PROGRESS_COLUMNS]))
    .cte("claimed")
)
_PROGRESS_VALUES = {
    "state": sa.bindparam("state", type_=exports.c.state.type),
    "percent_complete": sa.bindparam("percent_complete", type_=exports.c.percent_complete.type),
    "message": sa.bindparam("message", type_=exports.c.message.type),
    "external_data": sa.bindparam("external_data", type_=exports.c.external_data.type),
    "updated_at": sa.bindparam("updated_at", type_=exports.c.updated_at.type),
}
_RECORD = sa.update(exports).where(exports.c.id == sa.bindparam("export_id")).values(**_PROGRESS_VALUES)
# Fenced: only the holder of the claim records; a lost claim updates no row. Ending the
# attempt consumes a cancel asked for while it ran (the events say who asked), and an
# attempt the circuit's outage or a 429 is to blame for is given back.
_END_ATTEMPT = _RECORD.where(exports.c.claim_token == sa.bindparam("token", type_=exports.c.claim_token.type)).values(
    claim_token=None,
    claimed_until=None,
    next_attempt_at=sa.bindparam("next_attempt_at", type_=NOW.type),
    cancel_requested_by=None,
    attempts=exports.c.attempts - sa.bindparam("given_back", type_=exports.c.attempts.type),
)
_RECORD_EVENT = sa.insert(export_events)
# An ended claim: no token to record under, and expired, so the next claim takes the export.
_RELEASE = (
    sa.update(exports)
    .where(exports.c.claim_token == sa.bindparam("token", type_=exports.c.claim_token.type))
    .values(claim_token=None, claimed_until=NOW)
)
_RELEASE_SOME = _RELEASE.where(exports.c.id.in_(_IDS))
_CODES_BY_NAME = sa.select(offices.c.name, offices.c.code)
_ASSIGN = (
    sa.update(responses)
    .where(responses.c.id == sa.bindparam("response_id"))
    .values(office_id=sa.select(offices.c.id).where(offices.c.code == sa.bindparam("code")).scalar_subquery())
)


class SqlAlchemyExportQueue(ExportQueue):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def claim_due(self, now, limit, claimed_until, claim_token, probe_systems=(), paced=None) -> list[ClaimedExport]:
        probes = [
            export_id
            for system_id in probe_systems
            for export_id in self.connection.scalars(_DUE_OF_SYSTEM, {"now": now, "limit": 1, "system_id": system_id})
        ][:limit]
        ids = list(probes)
        slots = {system_id: free for system_id, free in (paced or {}).items() if free > 0}
        # Up to half the room is kept for the paced systems' slots: the rest goes first,
        # so that a new export of another system is not queued behind a paced backlog.
        kept = min(sum(slots.values()), (limit - len(ids)) // 2)
        if limit - kept > len(ids):
            held = {
                "now": now,
                "limit": limit - kept - len(ids),
                "paced_since": paced_since(now),
            }
            if not ids and not slots and self.connection.dialect.name == "postgresql":
                claiming = {**held, "token": claim_token, "until": claimed_until}
                return _claims(self.connection.execute(_CLAIM_DUE, claiming).mappings(), claim_token, ())
            ids += self.connection.scalars(_DUE, held)
        for system_id, free in slots.items():  # in the order given
            if limit > len(ids):
                of_system = {"now": now, "limit": min(free, limit - len(ids)), "system_id": system_id}
                ids += self.connection.scalars(_DUE_OF_SYSTEM, of_system)
        if not ids:
            return []
        self.connection.execute(_CLAIM, {"ids": ids, "token": claim_token, "until": claimed_until})
        return _claims(self.connection.execute(_CLAIMED, {"ids": ids}).mappings(), claim_token, probes)

    def holdings(self, export_ids) -> dict[int, Holding]:
        rows = self.connection.execute(_HOLDINGS, {"ids": list(export_ids)})
        return {export_id: Holding(token, cancel_requested_by) for export_id, token, cancel_requested_by in rows}

    def make_due(self, system_id, now) -> int:
        return self.connection.execute(_MAKE_DUE, {"system_id": system_id, "now": now}).rowcount

    def end_attempts(self, ends, now) -> None:
        if not ends:
            return
        ended = self.connection.execute(
            _END_ATTEMPT,
            [
                {
                    **_progress_values(end.export_id, end.progress, now),
                    "token": end.claim_token,
                    "next_attempt_at": end.next_attempt_at,
                    "given_back": 0 if end.charged else 1,
                }
                for end in ends
            ],
        )
        if ended.rowcount != len(ends) and self.connection.dialect.supports_sane_multi_rowcount:
            # The caller locked them held: a claim lost under that lock is a fault, and
            # the unit must not go on to store events for an export it did not update.
            raise RuntimeError(f"{len(ends) - ended.rowcount} of {len(ends)} ended attempts' claims were not held")
        events = [_event_values(end.export_id, report, now) for end in ends for report in end.reports]
        if events:
            self.connection.execute(_RECORD_EVENT, events)

    def record_all(self, records, now) -> None:
        if not records:
            return
        self.connection.execute(
            _RECORD, [_progress_values(export_id, progress, now) for export_id, _, progress in records]
        )
        self.connection.execute(
            _RECORD_EVENT, [_event_values(export_id, report, now) for export_id, report, _ in records]
        )

    def release(self, claim_token, now, export_ids=None) -> int:
        if export_ids is None:
            return self.connection.execute(_RELEASE, {"token": claim_token, "now": now}).rowcount
        return self.connection.execute(
            _RELEASE_SOME, {"token": claim_token, "now": now, "ids": list(export_ids)}
        ).rowcount


def _claims(rows: Iterable[RowMapping], claim_token: str, probes: Collection[int]) -> list[ClaimedExport]:
    return [
        ClaimedExport(
            claim_token=claim_token,
            **{name: row[name] for name in _CLAIM_FIELDS},
            progress=_progress(row),
            probe=row["export_id"] in probes,
        )
        for row in rows
    ]


def _progress(row) -> Progress:
    return Progress(ExportState(row["state"]), row["percent_complete"], row["message"], row["external_data"] or {})


def _progress_values(export_id: int, progress: Progress, now) -> dict:
    return row(progress, export_id=export_id, updated_at=now)


def _event_values(export_id: int, report: ProgressReport, now) -> dict:
    return row(report.as_event(), export_id=export_id, created_at=now, updated_at=now)


class SqlAlchemyOfficeRepository(OfficeRepository):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def codes_by_name(self) -> dict[str, int]:
        return {name: code for name, code in self.connection.execute(_CODES_BY_NAME)}

    def assign_response(self, response_id: int, office_code: int) -> None:
        self.connection.execute(_ASSIGN, {"response_id": response_id, "code": office_code})
