"""The worker's circuit breaker on in-memory adapters: it opens, probes, closes, and
rides out a day of CCD outage without failing an export."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from adapters.memory.queue import circuit_of
from application.carry_out_exports import carry_out, claim_due_exports
from domain.circuits import CircuitPolicy, CircuitState
from domain.exports import ExportState
from domain.failures import FailureKind
from domain.retries import RetrySchedule
from tests.unit.worker_fakes import START, events, queue, run_once

POLICY = CircuitPolicy(failures_to_open=3, first_probe_seconds=10, max_probe_seconds=600)


@pytest.fixture
def deps(deps):
    # Retries far apart: an export due before its schedule was made so by the circuit.
    return attrs.evolve(deps, circuit=POLICY, retries=RetrySchedule((3600.0, 3600.0)))


def circuit(store, system_id=43):
    return circuit_of(store.system_controls[system_id])


def open_circuit(store, ccd, deps, exports=4):
    """Queue `exports` exports to system 43 and fail them all with CCD down."""
    ids = [queue(store) for _ in range(exports)]
    ccd.down = True
    assert run_once(deps) == [ExportState.ERRORING] * exports
    return ids


def test_failures_in_a_row_open_the_circuit_and_its_exports_wait_uncharged(store, ccd, deps, clock):
    ids = open_circuit(store, ccd, deps)
    assert (circuit(store).state, circuit(store).consecutive_failures) == (CircuitState.OPEN, 4)
    assert circuit(store).next_probe_at == START + timedelta(seconds=10)
    # The two failures before it opened are charged and scheduled; from the third, CCD's outage is to blame.
    assert [store.work[i].attempts for i in ids] == [1, 1, 0, 0]
    # Those given back are due at the circuit's next probe.
    assert [store.work[i].next_attempt_at for i in ids] == [START + timedelta(hours=1)] * 2 + [
        START + timedelta(seconds=10)
    ] * 2
    other = queue(store, response_id=19, system_id=60)
    ccd.down = False
    assert run_once(deps) == [ExportState.COMPLETE]  # only system 60's: 43's circuit holds its exports
    assert store.exports[other].state is ExportState.COMPLETE
    assert [store.work[i].attempts for i in ids] == [1, 1, 0, 0]


def test_one_probe_at_a_time_and_each_failed_probe_waits_twice_as_long(store, ccd, deps, clock):
    ids = open_circuit(store, ccd, deps)
    waits = []
    for _ in range(4):
        clock.at = circuit(store).next_probe_at
        (probe,) = claim_due_exports(deps, limit=10)
        assert probe.probe and probe.external_system_id == 43
        assert circuit(store).state is CircuitState.HALF_OPEN
        assert claim_due_exports(deps, limit=10) == []  # no second probe while one runs
        attempt = carry_out(probe, deps)
        assert (attempt.state, attempt.charged, attempt.circuit_change) == (
            ExportState.ERRORING,
            False,
            "circuit_reopened",
        )
        waits.append((circuit(store).next_probe_at - clock.at).total_seconds())
    assert waits == [20, 40, 80, 160]
    assert [store.work[i].attempts for i in ids] == [1, 1, 0, 0]  # probes are not charged either


def test_a_probe_that_succeeds_closes_the_circuit_and_every_waiting_export_is_due_now(store, ccd, deps, clock):
    ids = open_circuit(store, ccd, deps)
    ccd.down = False
    clock.at = START + timedelta(seconds=10)
    (probe,) = claim_due_exports(deps, limit=10)
    attempt = carry_out(probe, deps)
    assert (attempt.state, attempt.circuit_change) == (ExportState.COMPLETE, "circuit_closed")
    assert (circuit(store).state, circuit(store).consecutive_failures) == (CircuitState.CLOSED, 0)
    # Those scheduled an hour ahead waited for CCD, not for their schedule: due now.
    assert run_once(deps) == [ExportState.COMPLETE] * 3
    assert all(store.exports[i].state is ExportState.COMPLETE for i in ids)


def test_a_lost_probe_is_taken_over_once_its_claim_expires(store, ccd, deps, clock):
    open_circuit(store, ccd, deps)
    clock.at = START + timedelta(seconds=10)
    (lost,) = claim_due_exports(deps, limit=10)  # its worker dies
    clock.at += timedelta(seconds=deps.claim_seconds + 1)
    (taken_over,) = claim_due_exports(deps, limit=10)
    assert taken_over.probe and taken_over.export_id == lost.export_id
    ccd.down = False
    assert carry_out(taken_over, deps).circuit_change == "circuit_closed"


def test_probes_beyond_the_claims_limit_give_way_to_the_next_claim(store, ccd, deps, clock):
    open_circuit(store, ccd, deps, exports=3)
    store.system_controls[60] = store.system_controls[43]  # open as well, due a probe at the same time
    queue(store, response_id=19, system_id=60)
    clock.at = circuit(store).next_probe_at
    (first,) = claim_due_exports(deps, limit=1)
    other = 60 if first.external_system_id == 43 else 43
    assert (circuit(store, other).state, circuit(store, other).next_probe_at) == (CircuitState.OPEN, clock.at)
    (second,) = claim_due_exports(deps, limit=1)
    assert second.probe and second.external_system_id == other


def test_a_probe_ccd_refuses_for_good_closes_the_circuit_and_fails_only_that_export(store, ccd, deps, clock):
    ids = open_circuit(store, ccd, deps)
    ccd.down = False
    ccd.fail_next("CCD data store refused the case search with 400, which ...", kind=FailureKind.PERMANENT)
    clock.at = circuit(store).next_probe_at
    (probe,) = claim_due_exports(deps, limit=10)
    attempt = carry_out(probe, deps)
    assert (attempt.state, attempt.circuit_change) == (ExportState.FAILED, "circuit_closed")  # CCD answered
    assert run_once(deps) == [ExportState.COMPLETE] * 3
    assert sorted(store.exports[i].state.value for i in ids) == ["complete"] * 3 + ["failed"]


def test_a_success_resets_the_count_of_failures_in_a_row(store, ccd, deps):
    queue(store)
    ccd.fail_next("CCD data store answered 502 to the case search", "CCD data store answered 502 to the case search")
    queue(store, response_id=19)
    queue(store, response_id=20)
    assert run_once(deps) == [ExportState.ERRORING, ExportState.ERRORING, ExportState.COMPLETE]
    assert (circuit(store).state, circuit(store).consecutive_failures) == (CircuitState.CLOSED, 0)


def test_a_permanent_failure_fails_the_export_at_once_and_counts_as_ccd_answering(store, ccd, deps):
    export_id = queue(store)
    message = "CCD data store refused the case search with 404, which retrying cannot fix: check ..."
    ccd.fail_next(message, kind=FailureKind.PERMANENT)
    assert run_once(deps) == [ExportState.FAILED]
    assert [state for state, _, _ in events(store, export_id)] == ["queued", "in_progress", "erroring", "failed"]
    assert store.exports[export_id].external_data == {"error": {"message": message}}
    assert store.work[export_id].next_attempt_at is None
    assert 43 not in store.system_controls  # no failure counted: CCD answered


def test_a_day_of_ccd_outage_fails_no_export_and_all_complete_once_it_heals(store, ccd, deps, clock):
    """Three attempts each (two retries, minutes apart) would all be spent within the
    first hour without the breaker; with it, nothing fails and CCD is asked rarely."""
    deps = attrs.evolve(deps, retries=RetrySchedule((60.0, 300.0)))
    for response_id in (18, 19, 20):
        queue(store, response_id=response_id)
    ccd.down = True
    probes = []
    while clock.at < START + timedelta(days=1):
        for claim in claim_due_exports(deps, limit=10):
            if claim.probe:
                probes.append(clock.at)
            carry_out(claim, deps)
        clock.at += timedelta(seconds=30)
    assert {export.state for export in store.exports.values()} == {ExportState.ERRORING}
    waits = [(later - earlier).total_seconds() for earlier, later in zip(probes, probes[1:], strict=False)]
    assert waits == sorted(waits) and max(waits) <= 600 + 30
    assert len(ccd.calls) < 3 + 24 * 3600 / 600 + 10, len(ccd.calls)
    ccd.down = False
    for _ in range(60):
        run_once(deps)
        clock.at += timedelta(seconds=30)
    assert {export.state for export in store.exports.values()} == {ExportState.COMPLETE}
    assert max(work.attempts for work in store.work.values()) <= 2
