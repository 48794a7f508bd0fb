"""The ExportResponses use case on the real SQLAlchemy adapters, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from functools import partial

import pytest
import sqlalchemy as sa

from adapters.clock import SystemClock
from adapters.sql import tables
from adapters.sql.accepting import DriverAcceptingUnit
from adapters.sql.reading import DriverReadingUnit, ReadingConnections
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from domain.commands import ExportResponses
from tests.builders import add_external_system, add_responses, count_rows, counting_statements
from tests.concurrency import run_together

UUID = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"


@pytest.fixture
def deps(engine):
    connections = ReadingConnections(engine)
    yield _deps(engine, connections)
    connections.close()


def _deps(engine, connections) -> ExportResponsesDeps:
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_external_system(connection, 44, reference="disabled", enabled=False)
        add_responses(connection, range(1, 1001))
    return ExportResponsesDeps(
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        clock=SystemClock(),
        new_uuid=lambda: str(uuid.uuid4()),
        reading=lambda: DriverReadingUnit(engine, connections),  # as entrypoints.bootstrap does
        accepting=lambda: DriverAcceptingUnit(engine, connections),
    )


def rows(engine, table, **where) -> int:
    with engine.connect() as connection:
        return count_rows(connection, table, **where)


def test_acceptance_writes_the_command_exports_and_events_in_one_go(engine, deps):
    result = export_responses(ExportResponses(UUID, 43, (1, 2, 2)), deps)
    assert result.accepted
    with engine.connect() as connection:
        exported = connection.execute(
            sa.select(
                tables.exports.c.resource_id,
                tables.exports.c.resource_type,
                tables.exports.c.state,
                tables.exports.c.percent_complete,
                tables.exports.c.external_data,
                tables.exports.c.command_uuid,
            ).order_by(tables.exports.c.resource_id)
        ).all()
        events = connection.execute(
            sa.select(
                tables.export_events.c.state, tables.export_events.c.percent_complete, tables.export_events.c.message
            )
        ).all()
        logged = connection.execute(sa.select(tables.commands.c.response_body, tables.commands.c.response_status)).one()
    assert exported == [(1, "Response", "queued", 0, {}, UUID), (2, "Response", "queued", 0, {}, UUID)]
    assert events == [("queued", 0, "Queued for export")] * 2
    assert logged == ('{"status":"accepted","meta":{},"uuid":"' + UUID + '"}', 202)


def test_a_repeat_is_answered_from_the_log_without_writing(engine, deps):
    first = export_responses(ExportResponses(UUID, 43, (1,)), deps)
    again = export_responses(ExportResponses(UUID, 43, (1,)), deps)
    conflict = export_responses(ExportResponses(UUID, 43, (2,)), deps)
    assert again == first
    assert conflict.codes == ["uuid_conflict"]
    assert rows(engine, tables.exports) == 1 and rows(engine, tables.commands) == 1


def test_a_rejected_command_writes_nothing(engine, deps):
    result = export_responses(ExportResponses(UUID, 44, (1, 5000)), deps)
    assert result.codes == ["external_system_not_exporting_responses", "response_not_found"]
    assert rows(engine, tables.exports) == 0 and rows(engine, tables.commands) == 0


def statements_for(engine, deps, ids, system_id=43, uuid_=None) -> list[str]:
    with counting_statements(engine) as statements:
        export_responses(ExportResponses(uuid_ or str(uuid.uuid4()), system_id, tuple(ids)), deps)
    return statements


def queries(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_validation_is_one_query_for_one_id_as_for_a_thousand(engine, deps):
    one = statements_for(engine, deps, [-1], system_id=-1)
    thousand = statements_for(engine, deps, [-i for i in range(1, 1001)], system_id=-1)
    assert len(one) == len(thousand) == 1  # no BEGIN or ROLLBACK either: one statement reads alone
    assert len(queries(one)) == 1


def test_a_repeat_is_answered_with_one_query(engine, deps):
    assert export_responses(ExportResponses(UUID, 43, tuple(range(1, 1001))), deps).accepted
    repeat = statements_for(engine, deps, range(1, 1001), uuid_=UUID)
    assert len(repeat) == len(queries(repeat)) == 1


@pytest.mark.parametrize("reading", [partial(SqlAlchemyUnitOfWork, read_only=True), DriverReadingUnit])
def test_the_facts_are_the_log_entry_alone_once_a_command_is_logged(engine, deps, reading):
    with reading(engine) as uow:
        fresh = uow.facts.for_export_responses(UUID, 43, [1, 2, 5000])
        unknown = uow.facts.for_export_responses(UUID, 99, [])
    assert fresh.logged is None and fresh.system.id == 43 and fresh.system.accepts_response_exports
    assert fresh.existing_response_ids == {1, 2}
    assert (unknown.system, unknown.existing_response_ids) == (None, frozenset())
    assert export_responses(ExportResponses(UUID, 43, (1, 2)), deps).accepted
    with reading(engine) as uow:
        logged = uow.facts.for_export_responses(UUID, 43, [1, 2, 5000])
    assert logged.logged.result.accepted and logged.logged.name == "ExportResponses"
    assert (logged.system, logged.existing_response_ids) == (None, frozenset())


def test_a_response_with_a_pending_export_is_skipped_and_the_others_queued(engine, deps):
    assert export_responses(ExportResponses(str(uuid.uuid4()), 43, (1, 2)), deps).accepted
    second = str(uuid.uuid4())
    assert export_responses(ExportResponses(second, 43, (2, 3, 3, 1, 4)), deps).accepted
    with engine.connect() as connection:
        queued = (
            connection.execute(sa.select(tables.exports.c.resource_id).where(tables.exports.c.command_uuid == second))
            .scalars()
            .all()
        )
    assert sorted(queued) == [3, 4]
    assert rows(engine, tables.exports) == 4 and rows(engine, tables.export_events) == 4


def test_acceptance_costs_the_same_statements_for_one_id_as_for_a_thousand(engine, deps):
    one = statements_for(engine, deps, [1])
    thousand = statements_for(engine, deps, range(2, 1001))
    assert len(one) == len(thousand)
    assert rows(engine, tables.exports) == 1000 and rows(engine, tables.export_events) == 1000


def test_concurrent_sends_of_one_uuid_execute_once(engine, deps):
    replies = run_together(8, lambda: export_responses(ExportResponses(UUID, 43, (1, 2, 3)), deps))
    assert all(reply == replies[0] for reply in replies) and replies[0].accepted
    assert rows(engine, tables.commands) == 1
    assert rows(engine, tables.exports) == 3 and rows(engine, tables.export_events) == 3


def test_concurrent_commands_queue_at_most_one_pending_export_per_response(engine, deps):
    replies = run_together(8, lambda: export_responses(ExportResponses(str(uuid.uuid4()), 43, (7,)), deps))
    assert all(reply.accepted for reply in replies)
    assert rows(engine, tables.commands) == 8
    assert rows(engine, tables.exports, resource_id=7) == 1


def test_queued_events_get_distinct_version_4_uuids(engine, deps):
    assert export_responses(ExportResponses(UUID, 43, tuple(range(1, 51))), deps).accepted
    with engine.connect() as connection:
        uuids = list(connection.scalars(sa.select(tables.export_events.c.uuid)))
    parsed = [uuid.UUID(value) for value in uuids]
    assert len(set(parsed)) == 50
    assert {value.version for value in parsed} == {4} and {value.variant for value in parsed} == {uuid.RFC_4122}


def test_the_queue_statement_itself_queues_a_repeated_id_once(engine, deps):
    """The use case sends distinct ids; the statement needs no Python to dedupe them either."""
    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.exports.queue_responses(UUID, 43, [5, 6, 5, 5], SystemClock().now())
        uow.commit()
    assert rows(engine, tables.exports, resource_id=5) == 1 and rows(engine, tables.exports) == 2
    assert rows(engine, tables.export_events) == 2
