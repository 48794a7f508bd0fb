"""CCD's 429s on in-memory adapters: never charged, the Retry-After honoured and bounded,
and one throttle shared by every worker on the store (domain/throttling.py)."""

from __future__ import annotations

import math
from datetime import timedelta

import attrs
import pytest

from adapters.memory.queue import circuit_of, throttle_of
from application.carry_out_exports import carry_out, claim_due_exports, held_until
from application.operations_ports import SystemControl
from domain import throttling
from domain.circuits import CircuitState
from domain.exports import ExportState
from domain.throttling import Throttle, after_rate_limit, bounded_retry_after, free_slots, take_slots
from tests.unit.worker_fakes import START, queue, run_once


def at(seconds: float):
    return START + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "asked, wait",
    [(None, 1.0), (0.0, 1.0), (0.2, 1.0), (5.0, 5.0), (60.0, 60.0), (3600.0, 60.0), (math.nan, 1.0)],
)
def test_retry_after_is_honoured_within_bounds(asked, wait):
    assert bounded_retry_after(asked) == wait


def test_a_first_429_pauses_for_retry_after_and_paces_a_quarter_below_the_rate_found_too_fast():
    throttle = after_rate_limit(Throttle(), START, 2.0, observed=80.0)
    assert throttle == Throttle(until=at(2), rate=60.0, cut_at=START, next_call_at=at(2))
    assert throttle.paused(at(1.9)) and not throttle.paused(at(2))


def test_a_429_while_paused_changes_nothing_and_one_after_cuts_the_pace_it_grew_to():
    first = after_rate_limit(Throttle(), START, 1.0, observed=40.0)  # 30 a second
    assert after_rate_limit(first, at(0.5), 30.0, observed=99.0) == first  # a call that raced the news
    assert first.rate_at(at(10)) == 40.0  # one call a second more, every second
    again = after_rate_limit(first, at(10), None, observed=99.0)
    assert (again.rate, again.until) == (30.0, at(11))


def test_the_pace_is_dropped_after_ten_minutes_without_a_429_and_never_falls_below_its_floor():
    throttle = after_rate_limit(Throttle(), START, 1.0, observed=0.1)
    assert throttle.rate == throttling.MIN_RATE
    assert throttle.rate_at(at(throttling.PACING_SECONDS)) is not None
    assert throttle.rate_at(at(throttling.PACING_SECONDS + 1)) is None


def test_slots_are_one_pace_apart_within_the_horizon_and_none_while_paused():
    throttle = Throttle(until=at(1), rate=10.0, cut_at=START, next_call_at=at(1))
    assert free_slots(throttle, at(0.5), limit=100) == 0
    # From 1.0 s to 1.5 s at 10 a second (growing by a tenth at 1 s): 1.0, 1.1, ... 1.5.
    assert free_slots(throttle, at(1), limit=100) == 6
    assert free_slots(throttle, at(1), limit=4) == 4
    times, after = take_slots(throttle, at(1), 3)
    assert [round((time - START).total_seconds(), 4) for time in times] == [1.0, 1.0909, 1.1818]
    assert free_slots(after, at(1), limit=100) == 3
    assert take_slots(Throttle(), at(1), 3) == ([], Throttle())  # not paced: no slots to take


def test_a_429_is_not_charged_and_the_export_is_due_when_the_system_may_be_called_again(store, ccd, deps, clock):
    export_id = queue(store)
    ccd.refuse_next(5)
    (claim,) = claim_due_exports(deps, limit=10)
    attempt = carry_out(claim, deps)
    assert (attempt.state, attempt.charged, attempt.next_attempt_at) == (ExportState.ERRORING, False, at(5))
    assert store.work[export_id].attempts == 0
    assert "answered 429" in str(store.exports[export_id].events[-1].data)
    assert attempt.throttle == throttle_of(store.system_controls[43])
    assert held_until(deps) == at(5)
    assert claim_due_exports(deps, limit=10) == []  # paused: nothing of the system is claimed
    clock.at = at(5)
    assert run_once(deps) == [ExportState.COMPLETE]
    assert store.work[export_id].attempts == 1  # the one attempt that asked CCD and was answered


def test_a_429_neither_opens_the_circuit_nor_counts_towards_it(store, ccd, deps, clock):
    for response_id in (18, 19, 20):
        queue(store, response_id=response_id)
    for step in range(10):  # twice the failures that would open it
        ccd.refuse_next(1, 1, 1)
        clock.at = at(step * 2)
        run_once(deps)
        assert (
            circuit_of(store.system_controls[43]).state,
            circuit_of(store.system_controls[43]).consecutive_failures,
        ) == (
            CircuitState.CLOSED,
            0,
        )
    assert [store.work[export_id].attempts for export_id in store.exports] == [0, 0, 0]


def test_two_workers_on_one_store_share_the_pause_and_the_slots(store, ccd, deps, clock):
    for response_id in (18, 19, 20):
        queue(store, response_id=response_id)
        queue(store, response_id=response_id, system_id=60)
    other = attrs.evolve(deps)  # a second worker: its own claims, the same store
    ccd.refuse_next(2)
    (first, *_) = claim_due_exports(deps, limit=1)
    carry_out(first, deps)  # system 43 refused: paused for 2 s, then paced
    # The other worker claims none of 43's exports while the pause lasts; 60's go on.
    assert {claim.external_system_id for claim in claim_due_exports(other, limit=10)} == {60}
    clock.at = at(2)
    mine, theirs = claim_due_exports(deps, limit=1), claim_due_exports(other, limit=1)
    pace = throttle_of(store.system_controls[43]).rate_at(at(2))
    assert [claim.not_before for claim in mine + theirs] == [at(2), at(2) + timedelta(seconds=1 / pace)]
    assert throttle_of(store.system_controls[43]).next_call_at == at(2) + timedelta(seconds=2 / pace)


def test_an_attempt_waits_for_its_slot_and_no_longer_than_the_horizon(store, ccd, deps, clock):
    waits = []
    deps = attrs.evolve(deps, pause=waits.append)
    queue(store)
    (claim,) = claim_due_exports(deps, limit=1)
    carry_out(attrs.evolve(claim, not_before=at(0.2)), deps)
    carry_out(attrs.evolve(claim, not_before=at(30)), deps)
    assert waits == [pytest.approx(0.2), throttling.HORIZON_SECONDS]


def test_a_new_export_of_another_system_is_claimed_before_a_paced_backlog(store, ccd, deps, clock):
    backlog = [queue(store, response_id=18 + index % 3) for index in range(6)]
    store.system_controls[43] = SystemControl(START, throttle_rate=50.0, throttle_cut_at=START, next_call_at=START)
    newest = queue(store, response_id=19, system_id=60)
    claims = claim_due_exports(deps, limit=2)
    assert [claim.export_id for claim in claims] == [newest, backlog[0]]


def test_a_slow_paced_system_is_not_crowded_out_by_a_fast_one(store, ccd, deps, clock):
    fast = [queue(store, response_id=18 + index % 3) for index in range(6)]
    slow = queue(store, response_id=19, system_id=60)
    # 43's next slot is taken up to 0.4 s ahead by earlier claims; 60 has waited for a call.
    ahead = START + timedelta(seconds=0.4)
    store.system_controls[43] = SystemControl(START, throttle_rate=50.0, throttle_cut_at=START, next_call_at=ahead)
    store.system_controls[60] = SystemControl(START, throttle_rate=20.0, throttle_cut_at=START, next_call_at=START)
    claims = claim_due_exports(deps, limit=3)
    assert [claim.export_id for claim in claims] == [slow, fast[0], fast[1]]
