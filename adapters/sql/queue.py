"""The export queue and offices on SQLAlchemy: claims with leases, fenced progress records.

On PostgreSQL, claims lock rows with FOR UPDATE SKIP LOCKED, so workers on many
machines never take the same export. On SQLite every write transaction begins
IMMEDIATE (see engine.py): one writer at a time, which makes the claim just as safe.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from adapters.sql.tables import (
    export_events,
    exports,
    external_system_configurations,
    external_systems,
    offices,
    responses,
)
from application.ports import ClaimedExport, ExportQueue, OfficeRepository
from domain.exports import RESPONSE, ExportState, Progress, ProgressReport

_WAITING = (ExportState.QUEUED.value, ExportState.ERRORING.value)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    waiting = sa.and_(
        exports.c.state.in_(_WAITING),
        sa.or_(exports.c.next_attempt_at.is_(None), exports.c.next_attempt_at <= now),
    )
    abandoned = sa.and_(exports.c.state == ExportState.IN_PROGRESS.value, exports.c.claimed_until < now)
    return sa.and_(exports.c.resource_type == RESPONSE, sa.or_(waiting, abandoned))


class SqlAlchemyExportQueue(ExportQueue):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def claim_due(self, now, limit, claimed_until, claim_token) -> list[ClaimedExport]:
        due = (
            sa.select(exports.c.id)
            .where(_due(now))
            .order_by(exports.c.next_attempt_at, exports.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(self.connection.scalars(due))
        if not ids:
            return []
        self.connection.execute(
            sa.update(exports)
            .where(exports.c.id.in_(ids))
            .values(claim_token=claim_token, claimed_until=claimed_until, attempts=exports.c.attempts + 1)
        )
        return [ClaimedExport(claim_token=claim_token, **row) for row in self.connection.execute(_claimed(ids)).mappings()]

    def progress(self, export_id, claim_token) -> Progress | None:
        query = sa.select(exports.c.state, exports.c.percent_complete, exports.c.message, exports.c.external_data)
        query = query.where(exports.c.id == export_id).with_for_update()
        if claim_token is not None:
            query = query.where(exports.c.claim_token == claim_token)
        row = self.connection.execute(query).first()
        if row is None:
            return None
        return Progress(ExportState(row.state), row.percent_complete, row.message, row.external_data or {})

    def has_event(self, event_uuid: str) -> bool:
        query = sa.select(export_events.c.id).where(export_events.c.uuid == event_uuid)
        return self.connection.execute(query).first() is not None

    def record(self, export_id, report: ProgressReport, progress: Progress, now, next_attempt_at=None, release=False):
        changes = {
            "state": progress.state.value,
            "percent_complete": progress.percent_complete,
            "message": progress.message,
            "external_data": progress.external_data,
            "updated_at": now,
        }
        if release:
            changes.update(claim_token=None, claimed_until=None, next_attempt_at=next_attempt_at)
        self.connection.execute(sa.update(exports).where(exports.c.id == export_id).values(**changes))
        self.connection.execute(
            sa.insert(export_events).values(
                export_id=export_id, uuid=report.uuid, state=report.state.value,
                percent_complete=report.percent_complete, message=report.message,
                data=report.external_data, created_at=now, updated_at=now,
            )
        )  # fmt: skip


def _claimed(ids: list[int]) -> sa.Select:
    case_type = (
        sa.select(external_system_configurations.c.value)
        .where(
            external_system_configurations.c.external_system_id == exports.c.external_system_id,
            external_system_configurations.c.key == "case_type_id",
        )
        .scalar_subquery()
    )
    return (
        sa.select(
            exports.c.id.label("export_id"),
            exports.c.attempts.label("attempt"),
            exports.c.resource_id.label("response_id"),
            responses.c.case_number,
            exports.c.external_system_id,
            case_type.label("case_type_id"),
            external_systems.c.response_remote_office,
        )
        .join(responses, responses.c.id == exports.c.resource_id)
        .join(external_systems, external_systems.c.id == exports.c.external_system_id)
        .where(exports.c.id.in_(ids))
        .order_by(exports.c.id)
    )


class SqlAlchemyOfficeRepository(OfficeRepository):
    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def codes_by_name(self) -> dict[str, int]:
        return {name: code for name, code in self.connection.execute(sa.select(offices.c.name, offices.c.code))}

    def assign_response(self, response_id: int, office_code: int) -> None:
        office_id = sa.select(offices.c.id).where(offices.c.code == office_code).scalar_subquery()
        self.connection.execute(sa.update(responses).where(responses.c.id == response_id).values(office_id=office_id))
