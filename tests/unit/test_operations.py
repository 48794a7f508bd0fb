"""The operators' use cases on the in-memory adapters: retry, cancel, bulk retry, pause, resume."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from adapters.clock import FixedClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork, Work
from application.operations import (
    Done,
    OperationsDeps,
    RefusalKind,
    Refused,
    Retried,
    cancel_export,
    pause_system,
    resume_system,
    retry_export,
    retry_exports,
)
from application.operations_ports import RetryFilters
from domain.exports import Export, ExportEvent, ExportState
from domain.external_systems import ExternalSystem
from domain.operations import CANCELLED_MESSAGE, RETRIED_MESSAGE

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)
COMMAND = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
OTHER_COMMAND = "bb86cdc9-9900-4cec-82a3-1355649c00d7"


def put(
    store: InMemoryStore, export_id: int, state: ExportState, *, response_id=None, system_id=43, command=COMMAND, **work
):
    store.exports[export_id] = Export(
        resource_type="Response",
        resource_id=response_id or 100 + export_id,
        external_system_id=system_id,
        state=state,
        percent_complete=0,
        message=f"{state.value} message",
        command_uuid=command,
        created_at=NOW,
        external_data={"error": {"message": "CCD timed out"}} if state is ExportState.ERRORING else {},
        events=(ExportEvent(f"00000000-0000-4000-8000-{export_id:012d}", ExportState.QUEUED, 0, "Queued for export"),),
    )
    store.work[export_id] = Work(**{"attempts": 3, "next_attempt_at": LATER, **work})


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    store.external_systems[44] = ExternalSystem(44, "CCD Glasgow", "ccd_glasgow", export_responses=True)
    return store


@pytest.fixture
def deps(store):
    counter = itertools.count(1)
    return OperationsDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        clock=FixedClock(NOW),
        new_uuid=lambda: f"10000000-0000-4000-8000-{next(counter):012d}",
    )


def last_event(store, export_id: int) -> ExportEvent:
    return store.exports[export_id].events[-1]


@pytest.mark.parametrize("state", [ExportState.FAILED, ExportState.ERRORING])
def test_a_retry_queues_the_export_again_due_now_with_its_attempts_spent_none(store, deps, state):
    put(store, 1, state, cancel_requested_by="earlier", claim_token="3f1d1e4e-0000-4000-8000-000000000001")

    assert retry_export(deps, 1, "admin") == Done()

    export, work = store.exports[1], store.work[1]
    assert (export.state, export.message, export.percent_complete) == (ExportState.QUEUED, RETRIED_MESSAGE, 0)
    assert work == Work(attempts=0, next_attempt_at=NOW)
    event = last_event(store, 1)
    assert (event.state, event.message) == (ExportState.QUEUED, RETRIED_MESSAGE)
    assert event.data["export_responses"] == {"action": "retry", "by": "admin"}


@pytest.mark.parametrize(
    "state", [ExportState.QUEUED, ExportState.IN_PROGRESS, ExportState.COMPLETE, ExportState.CREATED]
)
def test_a_retry_of_any_other_state_is_a_conflict_that_changes_nothing(store, deps, state):
    put(store, 1, state)
    before = (store.exports[1], store.work[1])

    refused = retry_export(deps, 1, "admin")

    assert isinstance(refused, Refused)
    assert (refused.kind, refused.code) == (RefusalKind.CONFLICT, "export_not_retryable")
    assert f"is {state.value}" in refused.message
    assert (store.exports[1], store.work[1]) == before


def test_the_second_of_two_retries_is_refused(store, deps):
    put(store, 1, ExportState.FAILED)
    first, second = retry_export(deps, 1, "ann"), retry_export(deps, 1, "bob")
    assert first == Done()
    assert isinstance(second, Refused) and second.code == "export_not_retryable"
    assert [event.data["export_responses"]["by"] for event in store.exports[1].events[1:]] == ["ann"]


def test_every_action_refuses_an_export_of_the_et_api_and_says_why(store, deps):
    put(store, 1, ExportState.FAILED, command=None)
    put(store, 2, ExportState.QUEUED, command=None)
    before = dict(store.exports)

    for refused in (retry_export(deps, 1, "admin"), cancel_export(deps, 2, "admin")):
        assert isinstance(refused, Refused)
        assert (refused.kind, refused.code) == (RefusalKind.CONFLICT, "export_owned_by_et_api")
        assert "belongs to the ET API" in refused.message
    assert retry_exports(deps, RetryFilters(), "admin") == Retried(0)
    assert store.exports == before


def test_an_unknown_export_is_not_found(store, deps):
    for refused in (retry_export(deps, 9, "admin"), cancel_export(deps, 9, "admin")):
        assert isinstance(refused, Refused)
        assert (refused.kind, refused.code) == (RefusalKind.NOT_FOUND, "export_not_found")


def test_a_failed_export_is_not_retried_while_another_of_its_response_is_pending(store, deps):
    put(store, 1, ExportState.FAILED, response_id=18)
    put(store, 2, ExportState.QUEUED, response_id=18, command=OTHER_COMMAND)

    refused = retry_export(deps, 1, "admin")

    assert isinstance(refused, Refused) and refused.code == "export_already_pending"
    assert "export 2" in refused.message
    assert store.exports[1].state is ExportState.FAILED


@pytest.mark.parametrize("state", [ExportState.QUEUED, ExportState.ERRORING])
def test_a_cancel_fails_a_waiting_export_at_once(store, deps, state):
    put(store, 1, state)

    assert cancel_export(deps, 1, "admin") == Done()

    export = store.exports[1]
    assert (export.state, export.message) == (ExportState.FAILED, CANCELLED_MESSAGE)
    assert store.work[1].next_attempt_at is None
    assert last_event(store, 1).data["export_responses"] == {"action": "cancel", "by": "admin"}


def test_a_cancel_of_an_export_in_progress_is_asked_of_its_attempt_once(store, deps):
    put(store, 1, ExportState.IN_PROGRESS, claim_token="3f1d1e4e-0000-4000-8000-000000000001")

    assert cancel_export(deps, 1, "admin") == Done(in_flight=True)
    assert cancel_export(deps, 1, "bob") == Done(in_flight=True)

    assert store.exports[1].state is ExportState.IN_PROGRESS
    assert store.work[1].cancel_requested_by == "admin"
    assert [event.data.get("export_responses") for event in store.exports[1].events[1:]] == [
        {"action": "cancel", "by": "admin"}
    ]


@pytest.mark.parametrize("state", [ExportState.COMPLETE, ExportState.FAILED])
def test_a_cancel_of_a_final_export_is_a_conflict(store, deps, state):
    put(store, 1, state)
    refused = cancel_export(deps, 1, "admin")
    assert isinstance(refused, Refused) and refused.code == "export_not_cancellable"
    assert store.exports[1].state is state


def test_a_bulk_retry_takes_what_the_filters_match_and_answers_the_count(store, deps):
    put(store, 1, ExportState.FAILED)
    put(store, 2, ExportState.ERRORING)
    put(store, 3, ExportState.FAILED, system_id=44)
    put(store, 4, ExportState.FAILED, command=OTHER_COMMAND)
    put(store, 5, ExportState.COMPLETE)

    assert retry_exports(deps, RetryFilters(external_system_id=43, state=ExportState.FAILED), "admin") == Retried(2)
    assert [store.exports[n].state for n in (1, 2, 3, 4, 5)] == [
        ExportState.QUEUED,
        ExportState.ERRORING,
        ExportState.FAILED,
        ExportState.QUEUED,
        ExportState.COMPLETE,
    ]
    assert retry_exports(deps, RetryFilters(command_uuid=COMMAND), "admin") == Retried(2)  # 2 and 3
    assert store.exports[3].state is ExportState.QUEUED
    uuids = {last_event(store, n).uuid for n in (1, 2, 3, 4)}
    assert len(uuids) == 4  # each its own event


def test_a_bulk_retry_queues_only_the_newest_failed_export_of_a_response(store, deps):
    put(store, 1, ExportState.FAILED, response_id=18)
    put(store, 2, ExportState.FAILED, response_id=18)
    put(store, 3, ExportState.FAILED, response_id=19)
    put(store, 4, ExportState.ERRORING, response_id=19, command=OTHER_COMMAND)

    assert retry_exports(deps, RetryFilters(), "admin") == Retried(2)

    assert [store.exports[n].state for n in (1, 2, 3, 4)] == [
        ExportState.FAILED,
        ExportState.QUEUED,
        ExportState.FAILED,  # its response has export 4 pending
        ExportState.QUEUED,
    ]


def test_pause_records_who_and_when_and_a_second_pause_keeps_them(store, deps):
    assert pause_system(deps, 43, "ann") == Done()
    deps_later = OperationsDeps(deps.unit_of_work, FixedClock(LATER), deps.new_uuid)
    assert pause_system(deps_later, 43, "bob") == Done()
    control = store.system_controls[43]
    assert (control.paused_at, control.paused_by, control.circuit_state) == (NOW, "ann", "closed")


def test_resume_makes_the_systems_waiting_exports_due_now(store, deps):
    put(store, 1, ExportState.QUEUED)
    put(store, 2, ExportState.ERRORING)
    put(store, 3, ExportState.ERRORING, system_id=44)
    put(store, 4, ExportState.COMPLETE)
    pause_system(deps, 43, "ann")

    assert resume_system(deps, 43, "ann") == Done()

    assert store.system_controls[43].paused_at is None and store.system_controls[43].paused_by is None
    assert [store.work[n].next_attempt_at for n in (1, 2, 3, 4)] == [NOW, NOW, LATER, LATER]


def test_an_unknown_system_is_not_found(store, deps):
    for refused in (pause_system(deps, 9, "ann"), resume_system(deps, 9, "ann")):
        assert isinstance(refused, Refused)
        assert (refused.kind, refused.code) == (RefusalKind.NOT_FOUND, "system_not_found")
    assert store.system_controls == {}
