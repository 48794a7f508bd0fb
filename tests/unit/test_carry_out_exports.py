"""The worker's use cases on in-memory adapters: claims, attempts, retries, progress."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from adapters.memory import InMemoryUnitOfWork
from adapters.memory.ccd import InMemoryCcdGateway
from application.carry_out_exports import carry_out, claim_due_exports
from application.ccd import CcdCase, CcdFailure
from application.ports import StoreUnavailable
from domain.exports import ExportState
from tests.unit.worker_fakes import MANCHESTER, START, events, queue, run_once


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


def test_an_export_whose_response_was_deleted_fails_without_asking_ccd(store, ccd, deps):
    gone, kept = queue(store, response_id=18), queue(store, response_id=19)
    store.response_ids.discard(18)
    store.case_numbers.pop(18)
    assert sorted(run_once(deps), key=str) == [ExportState.COMPLETE, ExportState.FAILED]
    assert (store.exports[gone].state, store.exports[kept].state) == (ExportState.FAILED, ExportState.COMPLETE)
    assert store.exports[gone].external_data == {
        "error": {"message": "Response 18 no longer exists: there is nothing to export"}
    }
    assert ccd.calls == [("Manchester_Dev", "8000001/2024")]


def test_a_response_without_a_case_number_completes_with_no_case_and_ccd_is_not_asked(store, ccd, deps):
    export_id = queue(store, response_id=20, system_id=60)  # remote offices: no office to move it to
    store.case_numbers[20] = None
    assert run_once(deps) == [ExportState.COMPLETE]
    assert store.exports[export_id].external_data["case_reference"] is None
    assert "no case was found" in store.exports[export_id].message
    assert ccd.calls == [] and 20 not in store.response_offices


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


class OneCaseFails(InMemoryCcdGateway):
    """CCD fails the search for one case while it answers every other (unless down)."""

    def __init__(self, case_number: str):
        super().__init__()
        self.case_number = case_number

    def find_latest_case(self, case_type_id: str, case_number: str) -> CcdCase | None:
        if case_number == self.case_number and not self.down:
            with self._lock:
                self.calls.append((case_type_id, case_number))
            raise CcdFailure("CCD data store answered 500 to the case search")
        return super().find_latest_case(case_type_id, case_number)


def _attempt_beside_another(store, deps, clock, seconds: float) -> None:
    """After `seconds`, a new export of another response is attempted just before."""
    clock.at += timedelta(seconds=seconds)
    queue(store, response_id=19)  # queued at START: due before the failing one
    run_once(deps)


def test_when_retries_are_spent_and_ccd_answers_others_the_export_fails_after_its_grace(store, deps, clock):
    ccd = OneCaseFails("2412345/2024")
    deps = attrs.evolve(deps, ccd=ccd)
    export_id = queue(store)
    for seconds in (0, 10, 60):  # the schedule: three attempts, CCD answering between
        _attempt_beside_another(store, deps, clock, seconds)
    work = store.work[export_id]
    assert (store.exports[export_id].state, work.attempts) == (ExportState.ERRORING, 3)
    assert work.next_attempt_at == clock.at + timedelta(seconds=10)  # the grace, the first probe's wait
    _attempt_beside_another(store, deps, clock, 10)
    export = store.exports[export_id]
    assert (export.state, export.message) == (ExportState.FAILED, "Response failed to export")
    assert store.work[export_id].attempts == 4 == deps.retries.most_attempts
    assert [state for state, _, _ in events(store, export_id)][-2:] == ["erroring", "failed"]
    assert ccd.calls.count(("Manchester_Dev", "2412345/2024")) == 4
    clock.at += timedelta(days=30)
    assert run_once(deps) == []  # failed is final: never claimed again


def test_one_export_ccd_fails_on_a_quiet_system_is_not_the_next_probe_once_another_waits(store, deps, clock):
    """Alone on a quiet system, its failures in a row (the grace attempts given back)
    open the circuit. A failed probe waits behind the exports queued meanwhile, so the
    next probe is theirs: CCD answers it, the circuit closes, and the sick export's next
    failure is its own: failed."""
    ccd = OneCaseFails("2412345/2024")
    deps = attrs.evolve(deps, ccd=ccd)
    export_id = queue(store)
    for seconds in (0, 10, 30):  # CCD answers another export beside each of the first two attempts
        _attempt_beside_another(store, deps, clock, seconds)  # and 30 s before the last
    clock.at += timedelta(seconds=30)
    run_once(deps)  # the schedule's last attempt
    while store.system_controls[43].circuit_state != "open":  # nothing else: the grace attempts
        clock.at += timedelta(seconds=10)
        run_once(deps)
    clock.at = store.system_controls[43].next_probe_at
    assert run_once(deps) == [ExportState.ERRORING]  # the probe: the sick export, alone
    healthy = queue(store, response_id=19, at=clock.at)  # queued right after the failed probe
    clock.at = store.system_controls[43].next_probe_at
    assert run_once(deps) == [ExportState.COMPLETE]  # the next probe is the healthy export's
    assert store.exports[healthy].state is ExportState.COMPLETE
    assert store.system_controls[43].circuit_state == "closed"
    run_once(deps)  # the sick export, due again once the circuit closed
    assert store.exports[export_id].state is ExportState.FAILED
    assert store.work[export_id].attempts == deps.retries.most_attempts


def test_an_outage_that_starts_at_an_exports_last_retry_does_not_fail_it(store, deps, clock):
    """Its last retry is the outage's first failure, four before the circuit opens: it
    is tried once more, then held uncharged, and completes once CCD is back."""
    ccd = OneCaseFails("2412345/2024")
    deps = attrs.evolve(deps, ccd=ccd)
    export_id = queue(store)
    for seconds in (0, 10):
        _attempt_beside_another(store, deps, clock, seconds)
    ccd.down = True
    clock.at += timedelta(seconds=60)
    while clock.at < START + timedelta(hours=6):
        run_once(deps)
        assert store.exports[export_id].state is ExportState.ERRORING
        clock.at += timedelta(seconds=10)
    assert store.work[export_id].attempts == 3  # the schedule's: the grace attempt and those after given back
    ccd.down = False
    ccd.add_case("Manchester_Dev", "2412345/2024", 1600000000000001, "Manchester")
    ccd.case_number = None  # its own fault is gone too
    for _ in range(70):
        run_once(deps)
        clock.at += timedelta(seconds=10)
    assert store.exports[export_id].state is ExportState.COMPLETE


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
    for _ in range(deps.retries.most_attempts):  # two retries and the outage grace
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
