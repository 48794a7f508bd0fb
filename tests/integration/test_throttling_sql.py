"""CCD's 429s on SQLite and PostgreSQL: the attempt is given back, and the throttle that
the workers share lives in the system's control row (domain/throttling.py)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from adapters.sql import tables
from application.carry_out_exports import carry_out, claim_due_exports, held_until
from domain import throttling
from domain.exports import ExportState
from tests.concurrency import run_together
from tests.integration.worker_support import event_states, export_rows, queue


def control(engine, system_id=43):
    with engine.connect() as connection:
        query = sa.select(tables.system_controls).where(tables.system_controls.c.external_system_id == system_id)
        return connection.execute(query).mappings().first()


def refuse_one(deps, ccd, retry_after=3.0):
    """Queue responses 1 to 8 to system 43 and 9 to 60; the first attempt meets a 429."""
    queue(deps, range(1, 9))
    queue(deps, [9], system_id=60)
    ccd.refuse_next(retry_after)
    (claim,) = claim_due_exports(deps, limit=1)
    return claim, carry_out(claim, deps)


def test_a_429_is_given_back_and_pauses_the_system_in_its_control_row(engine, deps, ccd, clock):
    claim, attempt = refuse_one(deps, ccd)
    assert (attempt.state, attempt.charged) == (ExportState.ERRORING, False)
    refused = next(row for row in export_rows(engine) if row.id == claim.export_id)
    assert (refused.attempts, refused.next_attempt_at) == (0, clock.now() + timedelta(seconds=3))
    assert event_states(engine, refused.id) == ["queued", "in_progress", "erroring"]
    row = control(engine)
    assert row.throttled_until == clock.now() + timedelta(seconds=3)
    assert row.throttle_cut_at == clock.now() and row.throttle_rate >= throttling.MIN_RATE
    assert (row.circuit_state, row.consecutive_failures) == ("closed", 0)  # no outage
    # Paused: only system 60's export is claimed; held_until says when 43 may be again.
    assert [c.external_system_id for c in claim_due_exports(deps, limit=10)] == [60]
    assert held_until(deps) == clock.now() + timedelta(seconds=3)


def test_after_the_pause_claims_take_slots_of_the_pace_and_every_export_completes_charged_once(
    engine, deps, ccd, clock
):
    refuse_one(deps, ccd)
    clock.at += timedelta(seconds=3)
    claims = claim_due_exports(deps, limit=10)
    pace = control(engine).throttle_rate + 3 * throttling.GROWTH_PER_SECOND  # grown for 3 s
    expected = min(10, int(throttling.HORIZON_SECONDS * pace) + 1)
    of_43 = [claim for claim in claims if claim.external_system_id == 43]
    assert len(of_43) == min(expected, 8)
    gaps = [(b.not_before - a.not_before).total_seconds() for a, b in zip(of_43, of_43[1:], strict=False)]
    assert all(abs(gap - 1 / pace) < 1e-6 for gap in gaps)
    for claim in claims:
        assert carry_out(claim, deps).state is ExportState.COMPLETE
    while len([row for row in export_rows(engine) if row.state == "complete"]) < 9:
        clock.at += timedelta(seconds=1)
        for claim in claim_due_exports(deps, limit=10):
            carry_out(claim, deps)
    assert [row.attempts for row in export_rows(engine)] == [1] * 9


def test_concurrent_claims_of_a_paced_system_take_distinct_slots(engine, deps, ccd, clock):
    refuse_one(deps, ccd)
    clock.at += timedelta(seconds=3)
    batches = run_together(4, lambda: claim_due_exports(deps, limit=2))
    slots = sorted(claim.not_before for batch in batches for claim in batch if claim.external_system_id == 43)
    assert slots and len(set(slots)) == len(slots)
    pace = control(engine).throttle_rate + 3 * throttling.GROWTH_PER_SECOND
    # One slot after the last, whichever claim took it (microseconds rounded at each claim).
    drift = control(engine).next_call_at - (slots[0] + timedelta(seconds=len(slots) / pace))
    assert abs(drift) < timedelta(microseconds=10)


def test_a_429_while_paused_extends_nothing(engine, deps, ccd, clock):
    refuse_one(deps, ccd)
    before = control(engine)
    ccd.refuse_next(30)
    clock.at += timedelta(seconds=1)
    (claim,) = [c for c in claim_due_exports(deps, limit=10)]  # system 60's: 43 is paused
    attempt = carry_out(claim, deps)  # 60 meets its own 429 and is throttled on its own
    assert attempt.charged is False
    assert control(engine, 60).throttled_until == clock.now() + timedelta(seconds=30)
    assert control(engine)["throttled_until"] == before["throttled_until"]
