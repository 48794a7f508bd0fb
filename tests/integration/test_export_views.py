"""The SQL export reader on SQLite and PostgreSQL: views, filters, pages, counts, query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.engine import create_engine
from adapters.sql.export_views import SqlAlchemyExportReader
from application.export_status import EventView, ExportFilters
from application.ports import StoreUnavailable
from domain.exports import ExportState
from tests.builders import add_external_system, counting_statements

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
COMMAND_A = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
COMMAND_B = "bb86cdc9-9900-4cec-82a3-1355649c00d7"


def export_row(export_id: int, **overrides) -> dict:
    at = T0 + timedelta(minutes=export_id)
    row = {
        "id": export_id,
        "resource_type": "Response",
        "resource_id": 100 + export_id,
        "external_system_id": 43,
        "state": "queued",
        "percent_complete": 0,
        "message": "Queued for export",
        "external_data": {},
        "command_uuid": COMMAND_A,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
        "updated_at": at,
    }
    return {**row, **overrides}


def event_row(event_id: int, export_id: int, uuid_suffix: int, state: str, **overrides) -> dict:
    row = {
        "id": event_id,
        "export_id": export_id,
        "uuid": f"00000000-0000-4000-8000-{uuid_suffix:012d}",
        "state": state,
        "percent_complete": 0,
        "message": f"{state} report",
        "data": {},
        "created_at": T0,
        "updated_at": T0,
    }
    return {**row, **overrides}


def insert(engine, exports=(), events=()) -> None:
    with engine.begin() as connection:
        if exports:
            connection.execute(sa.insert(tables.exports), list(exports))
        if events:
            connection.execute(sa.insert(tables.export_events), list(events))


@pytest.fixture
def reader(engine):
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_external_system(connection, 44)
    return SqlAlchemyExportReader(engine)


def test_get_returns_the_export_with_its_events_in_order_and_utc_times(engine, reader):
    insert(
        engine,
        [
            export_row(
                1,
                state="complete",
                percent_complete=100,
                message="Response exported",
                attempts=2,
                external_data={"case_id": 7, "office": "Manchester"},
                next_attempt_at=None,
                updated_at=T0 + timedelta(hours=1),
            )
        ],
        # Ids, not timestamps, give the order: the last two were recorded in the same microsecond.
        [
            event_row(3, 1, 1, "queued"),
            event_row(5, 1, 2, "in_progress"),
            event_row(
                9, 1, 3, "complete", percent_complete=None, data={"case_id": 7}, created_at=T0 + timedelta(hours=1)
            ),
            event_row(7, 1, 4, "erroring", data={"error": {"message": "boom"}}, created_at=T0 + timedelta(hours=1)),
        ],
    )
    found = reader.get(1)
    assert (found.id, found.state, found.percent_complete, found.message) == (
        1,
        ExportState.COMPLETE,
        100,
        "Response exported",
    )
    assert found.external_data == {"case_id": 7, "office": "Manchester"}
    assert (found.resource_type, found.response_id, found.external_system_id) == ("Response", 101, 43)
    assert (found.command_uuid, found.attempts, found.next_attempt_at) == (COMMAND_A, 2, None)
    assert found.created_at == T0 + timedelta(minutes=1) and found.created_at.tzinfo is not None
    assert found.created_at.utcoffset() == timedelta(0) and found.updated_at == T0 + timedelta(hours=1)
    assert [event.state.value for event in found.events] == ["queued", "in_progress", "erroring", "complete"]
    assert found.events[2] == EventView(
        "00000000-0000-4000-8000-000000000004",
        ExportState.ERRORING,
        0,
        "erroring report",
        {"error": {"message": "boom"}},
        T0 + timedelta(hours=1),
    )
    assert all(event.created_at.utcoffset() == timedelta(0) for event in found.events)


def test_an_event_of_the_rails_side_without_state_or_uuid_is_shown_with_nulls(engine, reader):
    insert(engine, [export_row(1, command_uuid=None)], [{**event_row(3, 1, 1, "queued"), "state": None, "uuid": None}])
    (event,) = reader.get(1).events
    assert (event.uuid, event.state, event.message) == (None, None, "queued report")


def test_get_of_an_unknown_id_is_none_and_events_of_others_stay_out(engine, reader):
    insert(engine, [export_row(1), export_row(2)], [event_row(1, 1, 1, "queued"), event_row(2, 2, 2, "queued")])
    assert reader.get(3) is None
    assert [event.uuid[-1] for event in reader.get(2).events] == ["2"]


@pytest.fixture
def mixed(engine, reader):
    insert(
        engine,
        [
            export_row(1, resource_id=10, state="complete"),
            export_row(2, resource_id=10, external_system_id=44, state="queued"),
            export_row(3, resource_id=11, state="failed", command_uuid=COMMAND_B),
            export_row(4, resource_id=10, state="queued", command_uuid=COMMAND_B),
            export_row(5, resource_id=10, resource_type="Claim", state="queued", command_uuid=None),
        ],
    )
    return reader


@pytest.mark.parametrize(
    "filters, ids",
    [
        (ExportFilters(), [5, 4, 3, 2, 1]),
        (ExportFilters(response_id=10), [4, 2, 1]),
        (ExportFilters(external_system_id=44), [2]),
        (ExportFilters(state=ExportState.QUEUED), [5, 4, 2]),
        (ExportFilters(command_uuid=COMMAND_B), [4, 3]),
        (ExportFilters(response_id=10, state=ExportState.QUEUED), [4, 2]),
        (ExportFilters(response_id=10, external_system_id=43, command_uuid=COMMAND_B), [4]),
        (ExportFilters(response_id=11, state=ExportState.COMPLETE), []),
    ],
)
def test_find_applies_each_filter_and_their_combinations_newest_first(mixed, filters, ids):
    page = mixed.find(filters, 1, 50)
    assert [export.id for export in page.exports] == ids
    assert page.total == len(ids)
    assert all(export.events == () for export in page.exports)


def test_find_pages_newest_first_with_the_total_of_all_matches(engine, reader):
    # Exports of one command share a creation time: the id breaks the tie.
    insert(engine, [export_row(i, created_at=T0) for i in range(1, 8)])
    pages = [reader.find(ExportFilters(), page, 3) for page in (1, 2, 3, 4)]
    assert [[export.id for export in page.exports] for page in pages] == [[7, 6, 5], [4, 3, 2], [1], []]
    assert {(page.per_page, page.total) for page in pages} == {(3, 7)}
    assert [page.page for page in pages] == [1, 2, 3, 4]
    far = reader.find(ExportFilters(), 2**62, 500)
    assert (far.exports, far.total) == ((), 7)


def test_count_by_state_lists_every_state_for_all_or_one_command(mixed):
    assert mixed.count_by_state() == {
        "created": 0,
        "queued": 3,
        "in_progress": 0,
        "erroring": 0,
        "complete": 1,
        "failed": 1,
    }
    assert list(mixed.count_by_state(COMMAND_B).items()) == [
        ("created", 0),
        ("queued", 1),
        ("in_progress", 0),
        ("erroring", 0),
        ("complete", 0),
        ("failed", 1),
    ]
    assert sum(mixed.count_by_state("11111111-2222-4333-8444-555555555555").values()) == 0


def test_a_page_of_fifty_takes_as_many_queries_as_a_page_of_one(engine, reader):
    insert(engine, [export_row(i) for i in range(1, 51)], [event_row(i, i, i, "queued") for i in range(1, 51)])
    reader.count_by_state()  # the first connection's dialect set-up is not the reader's doing
    with counting_statements(engine) as one:
        assert len(reader.find(ExportFilters(), 50, 1).exports) == 1
    with counting_statements(engine) as fifty:
        assert len(reader.find(ExportFilters(), 1, 50).exports) == 50
    with counting_statements(engine) as single:
        assert len(reader.get(50).events) == 1
    selects = [
        [s for s in statements if s.lstrip().upper().startswith("SELECT")] for statements in (one, fifty, single)
    ]
    assert len(one) == len(fifty)
    assert [len(found) for found in selects] == [2, 2, 2]


def test_reading_neither_waits_for_a_writer_nor_sees_its_uncommitted_exports(engine, reader):
    insert(engine, [export_row(1)])
    # A unit of work on SQLite holds the write lock from its first statement: a reader
    # that asked for it too would wait out the busy timeout and fail.
    with engine.begin() as writer:
        writer.execute(sa.insert(tables.exports), [export_row(2)])
        assert reader.find(ExportFilters(), 1, 50).total == 1
        assert reader.get(2) is None
    assert reader.find(ExportFilters(), 1, 50).total == 2


def test_a_database_that_does_not_answer_is_store_unavailable(tmp_path):
    missing = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    reader = SqlAlchemyExportReader(missing)
    for read in (lambda: reader.get(1), lambda: reader.find(ExportFilters(), 1, 10), reader.count_by_state):
        with pytest.raises(StoreUnavailable):
            read()
