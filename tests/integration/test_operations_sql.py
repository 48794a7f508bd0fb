"""The operators' actions on SQLite and PostgreSQL: conditional writes, races, set-based bulk retry."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.clock import FixedClock
from adapters.sql import tables
from adapters.sql.queue import SqlAlchemyExportQueue
from adapters.sql.system_views import SqlAlchemySystemReader
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.operations import (
    Done,
    OperationsDeps,
    Refused,
    Retried,
    cancel_export,
    pause_system,
    resume_system,
    retry_export,
    retry_exports,
)
from application.operations_ports import RetryFilters
from domain.exports import ExportState
from domain.operations import CANCELLED_MESSAGE, RETRIED_MESSAGE
from tests.builders import add_external_system, add_responses, counting_statements
from tests.concurrency import run_together

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
COMMAND = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
OTHER = "bb86cdc9-9900-4cec-82a3-1355649c00d7"


@pytest.fixture
def seeded(engine):
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_external_system(connection, 44)
        add_responses(connection, range(1, 40))
    return engine


@pytest.fixture
def deps(seeded):
    return OperationsDeps(lambda: SqlAlchemyUnitOfWork(seeded), FixedClock(NOW), lambda: str(uuid.uuid4()))


_ids = itertools.count(1)


def put(engine, state: str | None, *, response_id: int, system_id: int = 43, command: str | None = COMMAND, **extra):
    row = {
        "resource_type": "Response",
        "resource_id": response_id,
        "external_system_id": system_id,
        "state": state,
        "percent_complete": 0,
        "message": "before",
        "external_data": {},
        "command_uuid": command,
        "attempts": 4,
        "next_attempt_at": LATER,
        "created_at": NOW,
        "updated_at": NOW,
        **extra,
    }
    with engine.begin() as connection:
        return connection.execute(sa.insert(tables.exports).returning(tables.exports.c.id), row).scalar_one()


def row(engine, export_id: int):
    with engine.connect() as connection:
        return connection.execute(sa.select(tables.exports).where(tables.exports.c.id == export_id)).one()


def events(engine, export_id: int) -> list:
    query = sa.select(tables.export_events).where(tables.export_events.c.export_id == export_id)
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(tables.export_events.c.id)))


def test_a_retry_requeues_a_failed_export_with_a_fresh_schedule_and_an_event(seeded, deps):
    export_id = put(seeded, "failed", response_id=1, cancel_requested_by="ann", claim_token=str(uuid.uuid4()))

    assert retry_export(deps, export_id, "admin") == Done()

    after = row(seeded, export_id)
    assert (after.state, after.message, after.attempts) == ("queued", RETRIED_MESSAGE, 0)
    assert after.next_attempt_at.replace(tzinfo=UTC) == NOW
    assert (after.claim_token, after.claimed_until, after.cancel_requested_by) == (None, None, None)
    [event] = events(seeded, export_id)
    assert (event.state, event.message) == ("queued", RETRIED_MESSAGE)
    assert event.data == {"external_data": {}, "export_responses": {"action": "retry", "by": "admin"}}


@pytest.mark.parametrize(
    "state, command, code",
    [
        ("queued", COMMAND, "export_not_retryable"),
        ("complete", COMMAND, "export_not_retryable"),
        ("failed", None, "export_owned_by_et_api"),
        (None, None, "export_owned_by_et_api"),
    ],
)
def test_a_retry_refused_writes_nothing(seeded, deps, state, command, code):
    export_id = put(seeded, state, response_id=1, command=command)
    before = row(seeded, export_id)

    refused = retry_export(deps, export_id, "admin")

    assert isinstance(refused, Refused) and refused.code == code
    assert row(seeded, export_id) == before
    assert events(seeded, export_id) == []


def test_a_failed_export_whose_response_has_another_pending_is_not_retried(seeded, deps):
    failed = put(seeded, "failed", response_id=1)
    pending = put(seeded, "erroring", response_id=1, command=OTHER)

    refused = retry_export(deps, failed, "admin")

    assert isinstance(refused, Refused) and refused.code == "export_already_pending"
    assert f"export {pending}" in refused.message


def test_of_two_operators_retrying_one_export_at_once_one_wins(seeded, deps):
    export_id = put(seeded, "failed", response_id=1)

    outcomes = run_together(2, lambda: retry_export(deps, export_id, "admin"))

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Done", "Refused"]
    assert len(events(seeded, export_id)) == 1


@pytest.mark.parametrize("state", ["queued", "erroring"])
def test_a_cancel_fails_a_waiting_export(seeded, deps, state):
    export_id = put(seeded, state, response_id=1)

    assert cancel_export(deps, export_id, "admin") == Done()

    after = row(seeded, export_id)
    assert (after.state, after.message, after.next_attempt_at) == ("failed", CANCELLED_MESSAGE, None)
    [event] = events(seeded, export_id)
    assert (event.state, event.data["export_responses"]) == ("failed", {"action": "cancel", "by": "admin"})


def test_a_cancel_of_an_export_in_progress_marks_it_for_its_attempt(seeded, deps):
    export_id = put(seeded, "in_progress", response_id=1, claim_token=str(uuid.uuid4()), claimed_until=LATER)

    assert cancel_export(deps, export_id, "admin") == Done(in_flight=True)
    assert cancel_export(deps, export_id, "bob") == Done(in_flight=True)

    after = row(seeded, export_id)
    assert (after.state, after.cancel_requested_by, after.message) == ("in_progress", "admin", "before")
    assert len(events(seeded, export_id)) == 1


def test_a_cancel_of_a_final_export_or_the_et_apis_is_refused(seeded, deps):
    complete = put(seeded, "complete", response_id=1)
    theirs = put(seeded, "queued", response_id=2, command=None)
    assert cancel_export(deps, complete, "admin").code == "export_not_cancellable"
    assert cancel_export(deps, theirs, "admin").code == "export_owned_by_et_api"
    assert cancel_export(deps, 10**12, "admin").code == "export_not_found"
    assert row(seeded, theirs).state == "queued"


def test_a_cancel_racing_a_workers_claim_waits_for_it_and_marks_the_attempt(seeded, deps):
    export_id = put(seeded, "queued", response_id=1, next_attempt_at=NOW)
    claimed, outcome = threading.Event(), []
    with SqlAlchemyUnitOfWork(seeded) as uow:
        [claim] = uow.queue.claim_due(NOW, 1, LATER, str(uuid.uuid4()))
        assert isinstance(uow.queue, SqlAlchemyExportQueue)
        uow.connection.execute(
            sa.update(tables.exports).where(tables.exports.c.id == export_id).values(state="in_progress")
        )
        canceller = threading.Thread(
            target=lambda: (claimed.wait(30), outcome.append(cancel_export(deps, export_id, "ann")))
        )
        canceller.start()
        claimed.set()
        uow.commit()  # the cancel, waiting on the row (PostgreSQL) or the write lock (SQLite), goes on now
    canceller.join(30)
    assert claim.export_id == export_id
    assert outcome == [Done(in_flight=True)]
    assert row(seeded, export_id).cancel_requested_by == "ann"


def test_a_bulk_retry_takes_every_match_in_a_fixed_number_of_statements(seeded, deps):
    failed = [put(seeded, "failed", response_id=n) for n in range(1, 11)]
    erroring = [put(seeded, "erroring", response_id=n) for n in range(11, 14)]
    other_system = put(seeded, "failed", response_id=20, system_id=44)
    older = put(seeded, "failed", response_id=21)
    newer = put(seeded, "failed", response_id=21)
    put(seeded, "failed", response_id=22, command=None)

    with counting_statements(seeded) as few:
        assert retry_exports(deps, RetryFilters(external_system_id=43, state=ExportState.ERRORING), "a") == Retried(3)
    with counting_statements(seeded) as many:
        assert retry_exports(deps, RetryFilters(external_system_id=43), "admin") == Retried(11)
    assert len(many) == len(few)

    assert {row(seeded, n).state for n in [*failed, *erroring, newer]} == {"queued"}
    assert (row(seeded, older).state, row(seeded, other_system).state) == ("failed", "failed")
    recorded = [events(seeded, n) for n in failed]
    assert all(len(found) == 1 and found[0].data["export_responses"]["by"] == "admin" for found in recorded)
    assert len({found[0].uuid for found in recorded}) == len(failed)
    assert retry_exports(deps, RetryFilters(command_uuid=OTHER), "admin") == Retried(0)


def test_pause_resume_and_the_systems_list(seeded, deps):
    waiting = put(seeded, "erroring", response_id=1)
    put(seeded, "complete", response_id=2)
    put(seeded, "failed", response_id=3, command=None)
    put(seeded, None, response_id=4, command=None)  # the Rails side's, never queued: not counted
    reader = SqlAlchemySystemReader(seeded)

    assert pause_system(deps, 43, "ann") == Done()
    assert pause_system(OperationsDeps(deps.unit_of_work, FixedClock(LATER), deps.new_uuid), 43, "bob") == Done()
    with counting_statements(seeded) as statements:
        manchester, glasgow = reader.systems()
    assert len([s for s in statements if s.lstrip().startswith("SELECT")]) == 2
    assert (manchester.paused_at, manchester.paused_by, manchester.circuit.state) == (NOW, "ann", "closed")
    assert manchester.exports == {"queued": 0, "in_progress": 0, "erroring": 1, "complete": 1, "failed": 1}
    assert (glasgow.paused, glasgow.exports["failed"]) == (False, 0)

    assert resume_system(OperationsDeps(deps.unit_of_work, FixedClock(NOW), deps.new_uuid), 43, "ann") == Done()
    assert reader.system(43).paused is False
    assert row(seeded, waiting).next_attempt_at.replace(tzinfo=UTC) == NOW
    assert pause_system(deps, 45, "ann").code == "system_not_found"
    assert reader.system(45) is None
