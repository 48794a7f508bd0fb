"""Attempts that end together, recorded in one transaction (the worker's group commit),
on SQLite and PostgreSQL: the statements they cost, and that each is recorded as alone."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import attrs
import pytest
import sqlalchemy as sa

from adapters.sql import tables
from application.attempts import Outcome
from application.carry_out_exports import claim_due_exports, record_attempts
from application.ports import AttemptEnd, Holding
from domain import exports as progress
from domain.circuits import CircuitPolicy, CircuitState
from domain.exports import ExportState
from domain.failures import FailureKind
from tests.builders import NOW, counting_statements
from tests.integration.worker_support import event_states, export_rows, queue

ANSWERED = Outcome(found=False)  # CCD answered: no case yet
FAILED = progress.Progress(ExportState.FAILED, 100, "Response export failed", {})
CCD_DOWN = Outcome(failure="CCD did not answer", kind=FailureKind.TRANSIENT)


def verb(statement: str) -> str:
    return statement.split(None, 1)[0]


def commits(engine: sa.Engine) -> list[None]:
    counted: list[None] = []
    sa.event.listen(engine, "commit", lambda connection: counted.append(None))
    return counted


def test_a_group_of_ends_costs_one_transaction_and_the_statements_of_one_end(engine, deps):
    queue(deps, range(1, 6))
    first, *others = claim_due_exports(deps, limit=5)
    counted = commits(engine)
    with counting_statements(engine) as alone:
        record_attempts(deps, [(first, ANSWERED)])
    with counting_statements(engine) as together:
        attempts = record_attempts(deps, [(claim, ANSWERED) for claim in others])
    assert len(counted) == 2  # one commit each, for one attempt and for four
    circuit_reads = [statement for statement in together if "export_responses_system_controls" in statement]
    assert len(circuit_reads) == 1
    # Set-based: one read of the holders under lock, one update of the exports and one
    # insert of their events, however many attempts end together.
    assert len(together) == len(alone)
    assert [verb(statement) for statement in together if verb(statement) != "BEGIN"] == [
        "SELECT",  # the circuit
        "SELECT",  # the holders, locked
        "UPDATE",
        "INSERT",
    ]
    assert [attempt.state for attempt in attempts] == [ExportState.COMPLETE] * 4
    assert [row["state"] for row in export_rows(engine)] == ["complete"] * 5
    assert all(event_states(engine, row["id"]) == ["queued", "in_progress", "complete"] for row in export_rows(engine))


def test_a_lost_claim_or_a_cancel_in_a_group_is_that_export_s_alone(engine, deps, clock):
    queue(deps, range(1, 4))
    lost, cancelled, kept = claim_due_exports(deps, limit=3)
    with engine.begin() as connection:
        exports = tables.exports
        connection.execute(
            sa.update(exports)
            .where(exports.c.id == lost.export_id)
            .values(claim_token="0e1b2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e")
        )
        connection.execute(
            sa.update(exports).where(exports.c.id == cancelled.export_id).values(cancel_requested_by="ann")
        )
    attempts = record_attempts(deps, [(lost, ANSWERED), (cancelled, CCD_DOWN), (kept, ANSWERED)])
    assert [attempt.state for attempt in attempts] == [None, ExportState.FAILED, ExportState.COMPLETE]
    assert attempts[1].cancelled_by == "ann"
    rows = {row["id"]: row for row in export_rows(engine)}
    assert rows[lost.export_id]["state"] == "in_progress"  # the other worker's to record
    assert event_states(engine, lost.export_id) == ["queued", "in_progress"]
    assert (rows[cancelled.export_id]["state"], rows[cancelled.export_id]["cancel_requested_by"]) == ("failed", None)
    assert event_states(engine, cancelled.export_id) == ["queued", "in_progress", "erroring", "failed"]
    assert (rows[kept.export_id]["state"], rows[kept.export_id]["claim_token"]) == ("complete", None)


def test_a_group_changes_the_circuit_attempt_after_attempt_as_alone(engine, deps, clock):
    deps = attrs.evolve(deps, circuit=CircuitPolicy(failures_to_open=2, first_probe_seconds=10))
    queue(deps, range(1, 5))
    claims = claim_due_exports(deps, limit=4)
    attempts = record_attempts(deps, [(claim, CCD_DOWN) for claim in claims])
    # The second failure opens the circuit: from it on the failures are CCD's outage,
    # given back and due again when the circuit closes, as when each ends alone.
    assert [attempt.circuit_change for attempt in attempts] == [None, "circuit_opened", None, None]
    assert [attempt.charged for attempt in attempts] == [True, False, False, False]
    with engine.connect() as connection:
        control = connection.execute(sa.select(tables.system_controls)).mappings().one()
    assert (control["circuit_state"], control["consecutive_failures"]) == (CircuitState.OPEN.value, 4)
    assert control["next_probe_at"] == clock.now() + timedelta(seconds=10)
    assert [row["attempts"] for row in export_rows(engine)] == [1, 0, 0, 0]


def test_groups_lock_their_systems_in_id_order_so_opposite_groups_never_deadlock(engine, deps):
    """Two groups of the same two systems, ended in opposite orders, each paused right
    after its first lock until the other has its own: locked by id, the second waits
    for the first instead of deadlocking (PostgreSQL would abort one after a second)."""
    down = Outcome(failure="CCD did not answer", kind=FailureKind.TRANSIENT)
    queue(deps, [1, 2], system_id=43)
    queue(deps, [3, 4], system_id=60)
    by_system: dict[int, list] = {}
    for claim in claim_due_exports(deps, limit=4):
        by_system.setdefault(claim.external_system_id, []).append(claim)
    groups = [
        [(by_system[43][0], down), (by_system[60][0], down)],
        [(by_system[60][1], down), (by_system[43][1], down)],
    ]
    first_lock = threading.Barrier(2, timeout=5)
    locked = threading.local()
    pauses: list[float] = []
    errors: list[BaseException] = []

    def after(_conn, _cursor, statement, *_rest):
        if (
            "export_responses_system_controls" in statement
            and "FOR UPDATE" in statement
            and not getattr(locked, "once", False)
        ):
            locked.once = True
            with contextlib.suppress(threading.BrokenBarrierError):  # the other waits for this one's lock
                first_lock.wait()

    def record(group) -> None:
        try:
            record_attempts(attrs.evolve(deps, pause=pauses.append), group)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        threads = [threading.Thread(target=record, args=(group,)) for group in groups]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sa.event.remove(engine, "after_cursor_execute", after)
    assert not errors and not pauses, (errors, pauses)  # no deadlock, no retry
    assert [row.attempts for row in export_rows(engine)] == [1, 1, 1, 1]


def test_a_group_of_remote_office_ends_reads_the_offices_once(engine, deps):
    queue(deps, [2, 3, 4], system_id=60)
    claims = claim_due_exports(deps, limit=5)
    with counting_statements(engine) as statements:
        attempts = record_attempts(deps, [(claim, ANSWERED) for claim in claims])
    assert [attempt.state for attempt in attempts] == [ExportState.COMPLETE] * 3
    office_reads = [statement for statement in statements if statement.startswith("SELECT offices.name")]
    assert len(office_reads) == 1, office_reads
    with engine.connect() as connection:
        moved = connection.execute(
            sa.select(tables.responses.c.office_id).where(tables.responses.c.id.in_([2, 3, 4]))
        ).scalars()
        assert None not in set(moved)


def test_an_end_whose_claim_another_worker_took_is_refused_and_writes_nothing(engine, deps):
    queue(deps, [1, 2])
    kept, lost = claim_due_exports(deps, limit=2)
    taken_over = "0e1b2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
    with engine.begin() as connection:
        exports = tables.exports
        connection.execute(sa.update(exports).where(exports.c.id == lost.export_id).values(claim_token=taken_over))
    ends = [
        AttemptEnd(
            claim.export_id, claim.claim_token, (progress.failed("7c8b0b1e-55d1-4c1e-9c55-1d0f7e1b2a3c"),), FAILED
        )
        for claim in (kept, lost)
    ]
    with deps.unit_of_work() as uow:
        assert uow.queue.holdings([lost.export_id, kept.export_id, 999]) == {
            kept.export_id: Holding(kept.claim_token),
            lost.export_id: Holding(taken_over),
        }
        with pytest.raises(RuntimeError, match="1 of 2 ended attempts' claims were not held"):
            uow.queue.end_attempts(ends, NOW)
        # Refused before any event is stored, seen inside the unit (its rollback would
        # hide them): no event of the group exists even there.
        events = tables.export_events
        query = sa.select(sa.func.count()).where(events.c.export_id.in_([kept.export_id, lost.export_id]))
        assert uow.connection.scalar(query) == 4  # queued and in_progress, each
    assert [row["state"] for row in export_rows(engine)] == ["in_progress", "in_progress"]
    assert event_states(engine, kept.export_id) == ["queued", "in_progress"]


RATE_LIMITED = Outcome(failure="CCD answered 429", kind=FailureKind.TRANSIENT, retry_after=3.0)


def throttles(engine) -> dict[int, tuple]:
    controls = tables.system_controls
    query = sa.select(controls.c.external_system_id, controls.c.throttle_rate, controls.c.throttled_until)
    with engine.connect() as connection:
        return {system_id: (rate, until) for system_id, rate, until in connection.execute(query)}


def test_a_429_in_a_group_counts_the_claims_in_flight_as_it_would_alone(engine, deps):
    # The group's ends are written together at its end: those decided before the 429
    # have ended their claims, as when each is recorded alone, and are not in flight.
    queue(deps, [1, 2, 3], system_id=43)
    queue(deps, [4, 5, 6], system_id=60)
    claims = claim_due_exports(deps, limit=6)
    alone = [claim for claim in claims if claim.external_system_id == 43]
    together = [claim for claim in claims if claim.external_system_id == 60]
    for claim, outcome in zip(alone, (ANSWERED, ANSWERED, RATE_LIMITED), strict=True):
        record_attempts(deps, [(claim, outcome)])
    record_attempts(deps, list(zip(together, (ANSWERED, ANSWERED, RATE_LIMITED), strict=True)))
    recorded = throttles(engine)
    assert recorded[43][0] is not None and recorded[43][1] is not None
    assert recorded[60] == recorded[43]


def test_a_429_met_by_an_attempt_whose_claim_was_lost_still_throttles_its_system(engine, deps):
    queue(deps, [1])
    (lost,) = claim_due_exports(deps, limit=1)
    with engine.begin() as connection:
        connection.execute(sa.update(tables.exports).values(claim_token="0e1b2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"))
    assert [attempt.state for attempt in record_attempts(deps, [(lost, RATE_LIMITED)])] == [None]
    assert throttles(engine)[43][1] is not None  # paused for what CCD asked
    assert event_states(engine, lost.export_id) == ["queued", "in_progress"]  # the other worker's to record


def test_a_claim_token_spelt_otherwise_than_the_database_spells_it_still_holds(engine, deps):
    queue(deps, [1])
    (claim,) = claim_due_exports(deps, limit=1, claim_token="0E1B2C3D-4F5A-4B6C-8D7E-9F0A1B2C3D4E")
    assert [attempt.state for attempt in record_attempts(deps, [(claim, ANSWERED)])] == [ExportState.COMPLETE]
    assert [row["state"] for row in export_rows(engine)] == ["complete"]
