"""The worker's use cases on SQL: queueing through the command, reading rows back."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from adapters.sql import tables
from application.export_responses import ExportResponsesDeps, export_responses
from domain.commands import ExportResponses


def queue(deps, ids, system_id=43):
    command_deps = ExportResponsesDeps(deps.unit_of_work, deps.clock, lambda: str(uuid.uuid4()))
    assert export_responses(ExportResponses(str(uuid.uuid4()), system_id, tuple(ids)), command_deps).accepted


def export_rows(engine):
    with engine.connect() as connection:
        return connection.execute(sa.select(tables.exports).order_by(tables.exports.c.resource_id)).mappings().all()


def event_states(engine, export_id):
    with engine.connect() as connection:
        query = sa.select(tables.export_events.c.state).where(tables.export_events.c.export_id == export_id)
        return list(connection.scalars(query.order_by(tables.export_events.c.id)))
