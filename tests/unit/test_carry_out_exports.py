"""The worker's use cases on in-memory adapters: claims, attempts, retries, progress."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from adapters.clock import FixedClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from adapters.memory.ccd import InMemoryCcdGateway
from application.carry_out_exports import ExportWorkDeps, carry_out, claim_due_exports
from application.ports import StoreUnavailable
from domain.exports import ExportState, queue_response_export
from domain.external_systems import Configuration, ExternalSystem
from domain.retries import RetrySchedule

START = datetime(2026, 1, 1, tzinfo=UTC)
MANCHESTER = ExternalSystem(
    43,
    "CCD Manchester",
    "ccd_manchester",
    export_responses=True,
    configurations=(
        Configuration("case_type_id", "Manchester_Dev"),
        Configuration("password", "hunter2", can_read=False),
    ),
)


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = MANCHESTER
    store.external_systems[60] = attrs.evolve(MANCHESTER, id=60, reference="reform", response_remote_office=True)
    store.offices.update({"Manchester": 24, "Glasgow": 41, "Leeds": 18})
    for rid, case_number in {18: "2412345/2024", 19: "8000001/2024", 20: "1800002/2024"}.items():
        store.response_ids.add(rid)
        store.case_numbers[rid] = case_number
    return store


@pytest.fixture
def ccd():
    return InMemoryCcdGateway()


@pytest.fixture
def clock():
    return FixedClock(START)


@pytest.fixture
def deps(store, ccd, clock):
    counter = itertools.count(1)
    return ExportWorkDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        ccd=ccd,
        clock=clock,
        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        retries=RetrySchedule((10.0, 60.0)),
        claim_seconds=300,
        pause=lambda seconds: None,
    )


def queue(store, response_id=18, system_id=43) -> int:
    export_id = max(store.exports, default=0) + 1
    store.exports[export_id] = attrs.evolve(
        queue_response_export(response_id, system_id, "c0mmand", START, f"queued-{export_id}"), id=export_id
    )
    return export_id


def run_once(deps):
    return [carry_out(claim, deps).state for claim in claim_due_exports(deps, limit=10)]


def events(store, export_id):
    return [(e.state.value, e.percent_complete, e.message) for e in store.exports[export_id].events]


def test_a_found_case_completes_the_export_with_its_details(store, ccd, deps):
    export_id = queue(store)
    ccd.add_case("Manchester_Dev", "2412345/2024", 1600000000000001, "Manchester")
    assert run_once(deps) == [ExportState.COMPLETE]
    export = store.exports[export_id]
    assert (export.state, export.percent_complete, export.message) == (ExportState.COMPLETE, 100, "Response exported")
    assert export.external_data == {
        "case_id": 1600000000000001,
        "case_reference": "2412345/2024",
        "case_type_id": "Manchester_Dev",
        "office": "Manchester",
    }
    assert events(store, export_id) == [
        ("queued", 0, "Queued for export"),
        ("in_progress", 0, "Response export started"),
        ("complete", 100, "Response exported"),
    ]
    assert ccd.calls == [("Manchester_Dev", "2412345/2024")]


def test_no_case_still_completes_with_nulls_and_says_so(store, deps):
    export_id = queue(store)
    assert run_once(deps) == [ExportState.COMPLETE]
    export = store.exports[export_id]
    assert export.external_data["case_id"] is None and export.external_data["office"] is None
    assert "no case was found" in export.message


def test_a_failure_records_erroring_and_schedules_the_next_attempt(store, ccd, deps, clock):
    export_id = queue(store)
    ccd.fail_next("CCD data store answered 502 to the case search")
    assert run_once(deps) == [ExportState.ERRORING]
    export = store.exports[export_id]
    assert export.external_data == {"error": {"message": "CCD data store answered 502 to the case search"}}
    assert store.work[export_id].next_attempt_at == START + timedelta(seconds=10)
    assert store.work[export_id].claim_token is None
    assert run_once(deps) == []  # not due yet
    clock.at = START + timedelta(seconds=10)
    assert run_once(deps) == [ExportState.COMPLETE]
    assert store.exports[export_id].external_data["case_reference"] == "2412345/2024"
    assert store.work[export_id].attempts == 2


def test_when_retries_are_spent_the_export_fails(store, ccd, deps, clock):
    export_id = queue(store)
    ccd.fail_next("down", "down", "down")
    for delay in (0, 10, 60):
        clock.at += timedelta(seconds=delay)
        run_once(deps)
    export = store.exports[export_id]
    assert (export.state, export.message) == (ExportState.FAILED, "Response failed to export")
    assert [state for state, _, _ in events(store, export_id)][-2:] == ["erroring", "failed"]
    clock.at += timedelta(days=30)
    assert run_once(deps) == []  # failed is final: never claimed again


def test_a_crashed_attempt_is_reclaimed_once_its_claim_expires(store, ccd, deps, clock):
    export_id = queue(store)
    (abandoned,) = claim_due_exports(deps, limit=10)  # the worker dies here
    assert claim_due_exports(deps, limit=10) == []  # still held
    clock.at += timedelta(seconds=301)
    (reclaimed,) = claim_due_exports(deps, limit=10)
    assert reclaimed.attempt == 2 and reclaimed.claim_token != abandoned.claim_token
    assert carry_out(reclaimed, deps).state is ExportState.COMPLETE
    # The dead worker's late result is not recorded: the export completes once.
    assert carry_out(abandoned, deps).state is None
    assert [state for state, _, _ in events(store, export_id)].count("complete") == 1


def test_an_export_reclaimed_more_often_than_it_may_be_tried_fails(store, deps, clock):
    export_id = queue(store)
    for _ in range(3):  # three attempts allowed: two retries
        claim_due_exports(deps, limit=10)
        clock.at += timedelta(seconds=301)
    (claim,) = claim_due_exports(deps, limit=10)
    assert carry_out(claim, deps).state is ExportState.FAILED
    assert store.exports[export_id].state is ExportState.FAILED


def test_a_system_without_case_type_fails_the_export_at_once_saying_what_to_fix(store, ccd, deps):
    store.external_systems[43] = attrs.evolve(MANCHESTER, configurations=())
    export_id = queue(store)
    assert run_once(deps) == [ExportState.FAILED]
    assert store.exports[export_id].external_data["error"]["message"] == (
        "External system 43 (ccd_manchester) has no case_type_id configured: "
        "add one in its configuration, then retry the export"
    )
    assert [state for state, _, _ in events(store, export_id)] == ["queued", "in_progress", "erroring", "failed"]
    assert ccd.calls == [] and store.work[export_id].next_attempt_at is None


@pytest.mark.parametrize(
    "response_id, office, expected",
    [(19, "Leeds", 18), (19, None, 41), (20, None, 18), (18, "Nowhere", 24)],
)
def test_remote_office_systems_assign_the_response_to_the_case_office(store, ccd, deps, response_id, office, expected):
    ccd.add_case("Manchester_Dev", store.case_numbers[response_id], 1, office)
    queue(store, response_id=response_id, system_id=60)
    run_once(deps)
    assert store.response_offices == {response_id: expected}


def test_systems_without_remote_office_leave_the_response_office_alone(store, ccd, deps):
    ccd.add_case("Manchester_Dev", "2412345/2024", 1, "Leeds")
    queue(store)
    run_once(deps)
    assert store.response_offices == {}


def test_claims_respect_the_limit_and_never_overlap(store, deps):
    for _ in range(5):
        queue(store)
    first = claim_due_exports(deps, limit=3)
    second = claim_due_exports(deps, limit=3)
    assert len(first) == 3 and len(second) == 2
    assert not {c.export_id for c in first} & {c.export_id for c in second}


def test_secrets_of_the_system_appear_in_no_event(store, ccd, deps):
    export_id = queue(store)
    ccd.fail_next("boom")
    run_once(deps)
    assert "hunter2" not in repr(store.exports[export_id])


class CommitThenLoseConnection(InMemoryUnitOfWork):
    """Commits, then fails as if the connection broke before the commit was acknowledged."""

    def commit(self):
        super().commit()
        raise StoreUnavailable("connection lost after commit")


def test_a_report_recorded_again_after_a_lost_acknowledgement_is_recorded_once(store, ccd, deps):
    export_id = queue(store)
    (claim,) = claim_due_exports(deps, limit=10)
    units = iter([CommitThenLoseConnection(store)])
    flaky = attrs.evolve(deps, unit_of_work=lambda: next(units, None) or InMemoryUnitOfWork(store))
    carry_out(claim, flaky)
    assert [state for state, _, _ in events(store, export_id)] == ["queued", "in_progress", "complete"]
    assert store.exports[export_id].state is ExportState.COMPLETE
