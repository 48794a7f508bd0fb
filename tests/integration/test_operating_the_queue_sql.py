"""The worker's side of operating the queue on SQLite and PostgreSQL: failures that fail
at once, the circuit breaker shared through the control rows (a day of CCD outage on a
clock the test moves), claims that skip a paused system, and a cancel asked for in flight."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
import sqlalchemy as sa

from adapters.sql import tables
from application.carry_out_exports import carry_out, claim_due_exports
from domain.circuits import CircuitPolicy
from domain.exports import ExportState
from domain.failures import FailureKind
from domain.retries import RetrySchedule
from tests.concurrency import run_together
from tests.integration.worker_support import event_states, export_rows, queue

POLICY = CircuitPolicy(failures_to_open=3, first_probe_seconds=10, max_probe_seconds=600)


@pytest.fixture
def deps(deps):
    return attrs.evolve(deps, circuit=POLICY, retries=RetrySchedule((3600.0, 3600.0)))


def control(engine, system_id=43):
    with engine.connect() as connection:
        query = sa.select(tables.system_controls).where(tables.system_controls.c.external_system_id == system_id)
        return connection.execute(query).mappings().first()


def write_control(engine, clock, system_id=43, **values):
    """What the operator actions write: a pause, here."""
    row = {"external_system_id": system_id, "updated_at": clock.now(), **values}
    exists = control(engine, system_id) is not None
    with engine.begin() as connection:
        if not exists:
            connection.execute(sa.insert(tables.system_controls), row)
        else:
            connection.execute(
                sa.update(tables.system_controls)
                .where(tables.system_controls.c.external_system_id == system_id)
                .values(**row)
            )


def run_once(deps, limit=10):
    return [carry_out(claim, deps).state for claim in claim_due_exports(deps, limit=limit)]


def attempts(engine):
    return [row.attempts for row in export_rows(engine)]


def open_circuit(engine, deps, ccd, count=4):
    queue(deps, range(1, count + 1))
    ccd.down = True
    assert run_once(deps) == [ExportState.ERRORING] * count
    assert (control(engine).circuit_state, control(engine).consecutive_failures) == ("open", count)


def test_a_permanent_failure_fails_the_export_at_once(engine, deps, ccd):
    queue(deps, [1])
    ccd.fail_next("CCD data store refused the case search with 404, which ...", kind=FailureKind.PERMANENT)
    assert run_once(deps) == [ExportState.FAILED]
    (row,) = export_rows(engine)
    assert (row.attempts, row.next_attempt_at) == (1, None)
    assert event_states(engine, row.id) == ["queued", "in_progress", "erroring", "failed"]
    assert control(engine) is None


def test_a_system_without_case_type_fails_its_exports_at_once_saying_what_to_fix(engine, deps, ccd):
    with engine.begin() as connection:
        connection.execute(
            sa.delete(tables.external_system_configurations).where(
                tables.external_system_configurations.c.external_system_id == 60
            )
        )
    queue(deps, [1], system_id=60)
    assert run_once(deps) == [ExportState.FAILED]
    (row,) = export_rows(engine)
    assert row.external_data["error"]["message"] == (
        "External system 60 (reform) has no case_type_id configured: add one in its configuration, then retry the export"
    )
    assert ccd.calls == []


def test_the_circuit_opens_and_holds_the_systems_exports_uncharged(engine, deps, ccd, clock):
    open_circuit(engine, deps, ccd)
    assert attempts(engine) == [1, 1, 0, 0]
    assert control(engine).next_probe_at == clock.now() + timedelta(seconds=10)
    queue(deps, [5], system_id=60)
    ccd.down = False
    assert run_once(deps) == [ExportState.COMPLETE]  # system 60's only
    clock.at += timedelta(seconds=9)
    assert run_once(deps) == []
    assert attempts(engine) == [1, 1, 0, 0, 1]


def test_of_concurrent_claims_only_one_probes(engine, deps, ccd, clock):
    open_circuit(engine, deps, ccd)
    clock.at += timedelta(seconds=10)
    claims = [claim for batch in run_together(4, lambda: claim_due_exports(deps, limit=2)) for claim in batch]
    assert [(claim.probe, claim.external_system_id) for claim in claims] == [(True, 43)]
    assert control(engine).circuit_state == "half_open"
    attempt = carry_out(claims[0], deps)  # CCD is still down
    assert (attempt.state, attempt.charged, attempt.circuit_change) == (ExportState.ERRORING, False, "circuit_reopened")
    row = control(engine)
    assert (row.circuit_state, row.probe_interval_seconds) == ("open", 20)
    assert row.next_probe_at == clock.now() + timedelta(seconds=20)
    assert attempts(engine) == [1, 1, 0, 0]


def test_a_probe_that_succeeds_closes_the_circuit_and_the_waiting_exports_are_due_now(engine, deps, ccd, clock):
    open_circuit(engine, deps, ccd)
    ccd.down = False
    clock.at += timedelta(seconds=10)
    (probe,) = claim_due_exports(deps, limit=10)
    assert carry_out(probe, deps).circuit_change == "circuit_closed"
    row = control(engine)
    assert (row.circuit_state, row.consecutive_failures, row.next_probe_at) == ("closed", 0, None)
    assert run_once(deps) == [ExportState.COMPLETE] * 3  # not an hour from now, as their schedule said
    assert {row.state for row in export_rows(engine)} == {"complete"}


def test_a_day_of_ccd_outage_fails_no_export(engine, deps, ccd, clock):
    # Retries spent in minutes without the breaker; probes at most hourly, to keep the test short.
    deps = attrs.evolve(
        deps, retries=RetrySchedule((60.0, 300.0)), circuit=attrs.evolve(POLICY, max_probe_seconds=3600)
    )
    queue(deps, range(1, 5))
    start = clock.now()
    ccd.down = True
    probe_times = []
    while clock.at < start + timedelta(days=1):
        for claim in claim_due_exports(deps, limit=10):
            if claim.probe:
                probe_times.append(clock.now())
            carry_out(claim, deps)
        row = control(engine)
        # Straight to the next probe once the circuit is open; before that, a minute at a time.
        clock.at = row.next_probe_at if row and row.next_probe_at else clock.at + timedelta(seconds=60)
    assert {row.state for row in export_rows(engine)} == {"erroring"}
    waits = [(later - earlier).total_seconds() for earlier, later in zip(probe_times, probe_times[1:], strict=False)]
    assert waits[:8] == [20, 40, 80, 160, 320, 640, 1280, 2560] and set(waits[9:]) == {3600}, waits
    ccd.down = False
    for _ in range(3):
        run_once(deps)
        clock.at += timedelta(minutes=5)
    assert {row.state for row in export_rows(engine)} == {"complete"}
    assert max(attempts(engine)) <= 2


def test_claims_skip_a_paused_systems_exports_uncharged_until_it_is_resumed(engine, deps, clock):
    queue(deps, [1, 2])
    queue(deps, [3], system_id=60)
    write_control(engine, clock, paused_at=clock.now(), paused_by="alice")
    assert run_once(deps) == [ExportState.COMPLETE]
    clock.at += timedelta(days=2)
    assert run_once(deps) == []
    assert [(row.state, row.attempts) for row in export_rows(engine)] == [("queued", 0), ("queued", 0), ("complete", 1)]
    write_control(engine, clock, paused_at=None, paused_by=None)
    assert run_once(deps) == [ExportState.COMPLETE] * 2


def test_a_paused_system_is_not_probed(engine, deps, ccd, clock):
    open_circuit(engine, deps, ccd)
    write_control(engine, clock, paused_at=clock.now(), paused_by="alice")
    clock.at += timedelta(minutes=5)
    assert claim_due_exports(deps, limit=10) == []
    assert control(engine).circuit_state == "open"


def request_cancel(engine, export_id, by):
    with engine.begin() as connection:
        connection.execute(
            sa.update(tables.exports).where(tables.exports.c.id == export_id).values(cancel_requested_by=by)
        )


def test_a_cancel_asked_for_in_flight_fails_the_export_when_the_attempt_ends(engine, deps, ccd):
    queue(deps, [1])
    (claim,) = claim_due_exports(deps, limit=1)
    request_cancel(engine, claim.export_id, "bob")
    ccd.fail_next("CCD data store answered 502 to the case search")
    assert carry_out(claim, deps).state is ExportState.FAILED
    (row,) = export_rows(engine)
    assert (row.state, row.message, row.cancel_requested_by, row.next_attempt_at) == (
        "failed",
        "Cancelled by an operator",
        None,
        None,
    )
    with engine.connect() as connection:
        last = connection.execute(
            sa.select(tables.export_events).order_by(tables.export_events.c.id.desc()).limit(1)
        ).one()
    assert (last.state, last.message, last.data["export_responses"]) == (
        "failed",
        "Cancelled by an operator",
        {"attempt": 1, "by": "bob"},
    )


def test_a_cancel_too_late_for_a_found_case_leaves_it_complete(engine, deps, ccd):
    queue(deps, [1])
    ccd.add_case("ET_Test", "2400001/2024", 1600000000000001, "Manchester")
    (claim,) = claim_due_exports(deps, limit=1)
    request_cancel(engine, claim.export_id, "bob")
    assert carry_out(claim, deps).state is ExportState.COMPLETE
    (row,) = export_rows(engine)
    assert row.message == "Response exported; not cancelled: the attempt had completed in CCD when bob asked"
    assert row.external_data["case_id"] == 1600000000000001
