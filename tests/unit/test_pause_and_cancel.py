"""Claims skip a paused system's exports; a cancel asked for in flight is honoured when
the attempt ends. On in-memory adapters; the pause and the cancel are written directly,
as the operator actions would."""

from __future__ import annotations

from datetime import timedelta

import attrs

from adapters.memory.queue import InMemoryCircuitBreakers
from adapters.memory.store import SystemControl
from application.carry_out_exports import carry_out, claim_due_exports
from domain.circuits import Circuit, CircuitState
from domain.exports import ExportState
from tests.unit.worker_fakes import START, events, queue, run_once


def pause(store, system_id=43, by="alice"):
    control = store.system_controls.get(system_id, SystemControl(updated_at=START))
    store.system_controls[system_id] = attrs.evolve(control, paused_at=START, paused_by=by)


def resume(store, system_id=43):
    store.system_controls[system_id] = attrs.evolve(store.system_controls[system_id], paused_at=None, paused_by=None)


def test_a_paused_systems_exports_stay_queued_uncharged_until_it_is_resumed(store, deps, clock):
    held = [queue(store), queue(store, response_id=19)]
    other = queue(store, response_id=20, system_id=60)
    pause(store)
    assert run_once(deps) == [ExportState.COMPLETE]
    assert store.exports[other].state is ExportState.COMPLETE
    clock.at += timedelta(days=3)
    assert run_once(deps) == []
    assert [(store.exports[i].state, store.work.get(i)) for i in held] == [(ExportState.QUEUED, None)] * 2
    resume(store)
    assert run_once(deps) == [ExportState.COMPLETE] * 2


def test_a_paused_system_gets_no_probe_though_its_circuit_is_due_one(store, deps, clock):
    queue(store)
    opened = Circuit(CircuitState.OPEN, 5, START, START, 10.0, "down")
    InMemoryCircuitBreakers(store).save(43, opened, START)
    pause(store)
    clock.at += timedelta(minutes=5)
    assert claim_due_exports(deps, limit=10) == []
    assert InMemoryCircuitBreakers(store).circuit(43) == opened


def cancel_in_flight(store, deps, by="bob"):
    (claim,) = claim_due_exports(deps, limit=10)
    store.work[claim.export_id] = attrs.evolve(store.work[claim.export_id], cancel_requested_by=by)
    return claim


def test_a_cancel_asked_for_in_flight_fails_the_export_when_its_attempt_fails(store, ccd, deps):
    export_id = queue(store)
    claim = cancel_in_flight(store, deps)
    ccd.fail_next("CCD data store answered 502 to the case search")
    attempt = carry_out(claim, deps)
    assert (attempt.state, attempt.cancelled_by) == (ExportState.FAILED, "bob")
    export = store.exports[export_id]
    assert (export.state, export.message) == (ExportState.FAILED, "Cancelled by an operator")
    assert events(store, export_id)[-2:] == [
        ("erroring", None, "Response erroring"),
        ("failed", 0, "Cancelled by an operator"),
    ]
    assert export.events[-1].data["export_responses"] == {"attempt": 1, "by": "bob"}
    assert store.work[export_id].cancel_requested_by is None and store.work[export_id].next_attempt_at is None


def test_a_cancel_asked_for_while_ccd_answered_leaves_the_export_complete_and_says_so(store, ccd, deps):
    export_id = queue(store)
    ccd.add_case("Manchester_Dev", "2412345/2024", 1600000000000001, "Manchester")
    claim = cancel_in_flight(store, deps)
    assert carry_out(claim, deps).state is ExportState.COMPLETE
    export = store.exports[export_id]
    assert export.message == "Response exported; not cancelled: the attempt had completed in CCD when bob asked"
    assert export.external_data["case_id"] == 1600000000000001
    assert export.events[-1].data["export_responses"]["by"] == "bob"
    assert store.work[export_id].cancel_requested_by is None


def test_a_cancel_asked_for_in_flight_is_honoured_even_when_the_circuit_holds_the_export(store, ccd, deps):
    export_id = queue(store)
    InMemoryCircuitBreakers(store).save(43, Circuit(consecutive_failures=4), START)
    claim = cancel_in_flight(store, deps)
    ccd.down = True
    attempt = carry_out(claim, deps)  # opens the circuit: uncharged, were it not cancelled
    assert (attempt.state, attempt.circuit_change) == (ExportState.FAILED, "circuit_opened")
    assert store.exports[export_id].message == "Cancelled by an operator"


def test_a_cancel_whose_attempt_died_with_its_worker_ends_the_export_without_asking_ccd(store, ccd, deps, clock):
    export_id = queue(store)
    ccd.add_case("Manchester_Dev", "2412345/2024", 1600000000000001, "Manchester")
    cancel_in_flight(store, deps)  # its worker dies: no attempt ends, the claim expires
    clock.at += timedelta(seconds=deps.claim_seconds + 1)
    (reclaimed,) = claim_due_exports(deps, limit=10)
    assert reclaimed.cancel_requested_by == "bob"
    ccd.down = True  # asking CCD now would fail the attempt, not cancel it
    attempt = carry_out(reclaimed, deps)
    assert (attempt.state, attempt.cancelled_by, attempt.circuit_change) == (ExportState.FAILED, "bob", None)
    export = store.exports[export_id]
    assert (export.state, export.message) == (ExportState.FAILED, "Cancelled by an operator")
    # CCD was not asked: no erroring report, and its circuit counted no failure.
    assert [state for state, _, _ in events(store, export_id)] == ["queued", "in_progress", "in_progress", "failed"]
    assert InMemoryCircuitBreakers(store).circuit(43).consecutive_failures == 0
