"""Use cases of the worker: claim due exports, and carry one out against CCD."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs
from attrs import field, frozen

from application.attempts import Attempt, Outcome, plan_reports
from application.ccd import CcdFailure, CcdGateway, CcdRateLimited
from application.ports import AttemptEnd, ClaimedExport, Clock, StoreUnavailable, UnitOfWork
from application.retrying import retried
from domain import circuits, throttling
from domain import exports as progress
from domain.circuits import CircuitPolicy
from domain.exports import ExportState
from domain.failures import FailureKind, no_case_type_message, response_gone_message
from domain.offices import office_code_for
from domain.retries import RetrySchedule

DEFAULT_CLAIM_SECONDS = 300.0
_RECORD_ATTEMPTS = 3


@frozen
class ExportWorkDeps:
    unit_of_work: Callable[[], UnitOfWork]
    ccd: CcdGateway
    clock: Clock
    new_uuid: Callable[[], str]
    retries: RetrySchedule = field(factory=RetrySchedule)
    # Longer than one attempt can take (CCD timeouts included), so that only a
    # worker that died loses its claim.
    claim_seconds: float = DEFAULT_CLAIM_SECONDS
    pause: Callable[[float], None] = time.sleep
    circuit: CircuitPolicy = field(factory=CircuitPolicy)
    # How an attempt's end is recorded: by default alone, in its own transaction; the
    # worker records ends that come together in one (adapters/group_commit.py).
    record: Callable[[ClaimedExport, Outcome], Attempt] | None = None


def claim_due_exports(deps: ExportWorkDeps, limit: int, claim_token: str | None = None) -> list[ClaimedExport]:
    """Claim up to `limit` due exports and record that their attempt has started.

    Given a `claim_token`, the caller can release the claims even if this fails after
    the database committed them (an acknowledgement lost with the connection).
    """
    now = deps.clock.now()
    until = now + timedelta(seconds=deps.claim_seconds)
    with deps.unit_of_work() as uow:
        # A probe is held as long as its claim: if its worker dies, both expire together.
        probes = uow.circuits.start_probes(now, until)
        paced = uow.throttles.paced(now)
        # The system whose next slot is soonest first: a fast pace must not take all the
        # room from a slower one that has waited longer.
        soonest = sorted(paced.items(), key=lambda item: (throttling.next_slot(item[1], now), item[0]))
        slots = {system_id: throttling.free_slots(throttle, now, limit) for system_id, throttle in soonest}
        # In the spelling the database gives back (lower case, with dashes), so that the
        # claims' tokens compare equal to what `holdings` reads at the attempts' end.
        token = str(uuid.UUID(claim_token or deps.new_uuid()))
        claims = uow.queue.claim_due(now, limit, until, token, probes, slots)
        claims = _in_slots(uow, claims, paced, now)
        for system_id in set(probes) - {claim.external_system_id for claim in claims if claim.probe}:
            # Its due export went to another worker meanwhile: let the next claim probe.
            uow.circuits.save(system_id, circuits.after_no_call(uow.circuits.circuit(system_id), now), now)
        started, records = [], []
        for claim in claims:
            report = attrs.evolve(progress.started(deps.new_uuid()), attempt=claim.attempt)
            started_progress = progress.apply_report(claim.progress, report)
            assert started_progress is not None, "the queue claims only exports that are not final"
            claim = attrs.evolve(claim, progress=started_progress)
            started.append(claim)
            records.append((claim.export_id, report, claim.progress))
        uow.queue.record_all(records, now)
        uow.commit()
    return started


def _in_slots(
    uow: UnitOfWork, claims: list[ClaimedExport], paced: dict[int, throttling.Throttle], now: datetime
) -> list[ClaimedExport]:
    """Give each claim of a paced system the slot its call waits for, and keep the slots taken."""
    slotted = []
    for system_id, throttle in paced.items():
        of_system = [claim for claim in claims if claim.external_system_id == system_id and not claim.probe]
        if not of_system:
            continue
        times, after = throttling.take_slots(throttle, now, len(of_system))
        uow.throttles.save(system_id, after, now)
        slotted += [attrs.evolve(claim, not_before=at) for claim, at in zip(of_system, times, strict=True)]
    by_id = {claim.export_id: claim for claim in slotted}
    return [by_id.get(claim.export_id, claim) for claim in claims]


def held_until(deps: ExportWorkDeps) -> datetime | None:
    """The soonest that a throttle holding back waiting exports lets one be claimed (the
    worker waits for it rather than for its poll, and a draining worker does not stop)."""
    with deps.unit_of_work() as uow:
        return uow.throttles.held_until(deps.clock.now())


def carry_out(claim: ClaimedExport, deps: ExportWorkDeps) -> Attempt:
    """One attempt at exporting a claimed response, and how it ended.

    A state of None means the claim was lost (the worker took too long and another
    took over): nothing is recorded then, so an export is never recorded complete twice.
    """
    if claim.attempt > deps.retries.most_attempts:
        # Reclaimed after crashes more often than it may be tried: give up on it.
        return _finish(claim, deps, Outcome(spent=True, asked_ccd=False))
    if claim.cancel_requested_by is not None:
        # Cancelled while the worker that held it died: not attempted again; the cancel,
        # read again under lock as the attempt ends, makes it failed.
        return _finish(claim, deps, Outcome(spent=True, asked_ccd=False))
    return _finish(claim, deps, _ask_ccd(claim, deps))


def record_crash(claim: ClaimedExport, deps: ExportWorkDeps, message: str) -> Attempt:
    """After an attempt that raised what no port promised: record it as a failed attempt,
    retried on the schedule like any other, which ends the claim. It says nothing of
    CCD, so the circuit is left as it is."""
    return _finish(claim, deps, Outcome(failure=message, kind=FailureKind.TRANSIENT, asked_ccd=False))


def _ask_ccd(claim: ClaimedExport, deps: ExportWorkDeps) -> Outcome:
    if not claim.response_exists:
        return Outcome(failure=response_gone_message(claim.response_id), kind=FailureKind.PERMANENT, asked_ccd=False)
    if not claim.case_type_id:
        message = no_case_type_message(claim.external_system_id, claim.external_system_reference)
        return Outcome(failure=message, kind=FailureKind.PERMANENT, asked_ccd=False)
    if not claim.case_number:
        # No case has an empty reference: complete, no case found, as for a reference no
        # case has. CCD is not asked: a search without the reference finds any case.
        return Outcome(found=False, asked_ccd=False)
    if claim.not_before is not None:
        # The slot of its system's pace: never further off than a claim may take slots.
        wait = (claim.not_before - deps.clock.now()).total_seconds()
        if wait > 0:
            deps.pause(min(wait, throttling.HORIZON_SECONDS))
    try:
        case = deps.ccd.find_latest_case(claim.case_type_id, claim.case_number)
    except CcdRateLimited as refusal:
        return Outcome(failure=str(refusal), kind=FailureKind.TRANSIENT, retry_after=refusal.retry_after)
    except CcdFailure as failure:
        return Outcome(failure=str(failure) or type(failure).__name__, kind=failure.kind)
    return Outcome(case=case, found=case is not None)


def _circuit_after(before: circuits.Circuit, outcome: Outcome, now: datetime, deps: ExportWorkDeps) -> circuits.Circuit:
    if not outcome.asked_ccd or outcome.retry_after is not None:
        # A 429 is CCD answering "slower": neither an outage nor proof that it is up.
        return circuits.after_no_call(before, now)
    if outcome.failure is not None and outcome.kind is FailureKind.TRANSIENT:
        return circuits.after_transient_failure(before, outcome.failure, now, deps.circuit)
    return circuits.after_answer(before)


def _finish(claim: ClaimedExport, deps: ExportWorkDeps, outcome: Outcome) -> Attempt:
    if deps.record is not None:
        return deps.record(claim, outcome)
    return record_attempts(deps, [(claim, outcome)])[0]


def record_attempts(deps: ExportWorkDeps, ended: Sequence[tuple[ClaimedExport, Outcome]]) -> list[Attempt]:
    """Record how each attempt ended, all in one transaction, and how each ended there.

    The last report of each ends its claim in that transaction: when a commit reached
    the database but its acknowledgement was lost, the next try finds the exports no
    longer held and records nothing twice. Each system's circuit is read once, under
    lock, and the attempts change it one after another, in order.
    """
    return retried(
        lambda: _record_all(deps, ended),
        on=StoreUnavailable,
        attempts=_RECORD_ATTEMPTS,
        pause=lambda failures: deps.pause(2 ** (failures - 1)),
    )


def _record_all(deps: ExportWorkDeps, ended: Sequence[tuple[ClaimedExport, Outcome]]) -> list[Attempt]:
    now = deps.clock.now()
    with deps.unit_of_work() as uow:
        # Each system's circuit as this unit read it, locked in the order of the systems'
        # ids: two groups locking them in opposite orders would deadlock. (Rows not yet
        # there lock nothing: two groups each meeting a first 429 of two such systems,
        # or a group and a claim, can still meet once; PostgreSQL ends one, and it is
        # retried.)
        read = {
            system_id: uow.circuits.circuit(system_id) for system_id in sorted({c.external_system_id for c, _ in ended})
        }
        current = dict(read)  # and as the attempts recorded so far left it
        # Who holds each export, and who asked to cancel it, read under lock at the
        # attempts' end: an operator may have asked meanwhile, another worker taken over.
        holdings = uow.queue.holdings([claim.export_id for claim, _ in ended])
        offices = functools.cache(uow.offices.codes_by_name)  # read once a group, if at all
        attempts: list[Attempt] = []
        ends: list[AttemptEnd] = []
        for claim, outcome in ended:
            holding = holdings.get(claim.export_id)
            if holding is None or holding.claim_token != claim.claim_token:
                # Lost: another worker took over. Nothing is recorded of the export, so
                # it is never recorded complete twice; but a 429 still tells of CCD's pace.
                if outcome.retry_after is not None:
                    _throttle_after(uow, claim, outcome.retry_after, now, deps, ends)
                attempts.append(Attempt(None))
                continue
            system_id = claim.external_system_id
            attempt, attempt_end = _record(
                uow, claim, outcome, holding.cancel_requested_by, current[system_id], now, deps, offices, ends
            )
            if attempt.circuit is not None:
                current[system_id] = attempt.circuit
            attempts.append(attempt)
            ends.append(attempt_end)
        uow.queue.end_attempts(ends, now)
        for system_id, after in current.items():
            before = read[system_id]
            if after != before:
                uow.circuits.save(system_id, after, now)
            if after.is_closed and not before.is_closed:
                uow.queue.make_due(system_id, now)  # they waited for CCD, not for their schedule
        uow.commit()
    return attempts


def _record(
    uow: UnitOfWork,
    claim: ClaimedExport,
    outcome: Outcome,
    cancelled_by: str | None,
    before: circuits.Circuit,
    now: datetime,
    deps: ExportWorkDeps,
    offices: Callable[[], dict[str, int]],
    decided: Sequence[AttemptEnd],
) -> tuple[Attempt, AttemptEnd]:
    """How one attempt at an export still held ends, given its system's circuit before it,
    the offices' codes by name (read when first asked for) and the ends the group has
    decided before it; what is not the export's own row (a throttle, an
    office) is written in `uow` at once."""
    after = _circuit_after(before, outcome, now, deps)
    throttle, throttled_until = None, None
    if outcome.retry_after is not None:
        throttle, throttled_until = _throttle_after(uow, claim, outcome.retry_after, now, deps, decided)
    grace_seconds = deps.circuit.first_probe_seconds
    plan = plan_reports(
        claim, outcome, after, cancelled_by, deps.retries, deps.new_uuid, now, grace_seconds, throttled_until
    )
    current, reports = claim.progress, []
    for report in plan.reports:
        updated = progress.apply_report(current, report)
        if updated is not None:
            current = updated
            reports.append(attrs.evolve(report, attempt=claim.attempt))
    if claim.response_remote_office and current.state is ExportState.COMPLETE:
        code = office_code_for(outcome.office, claim.case_number, offices())
        if code is not None:
            uow.offices.assign_response(claim.response_id, code)
    attempt = Attempt(
        current.state,
        error=outcome.failure,
        next_attempt_at=plan.next_attempt_at if current.state is ExportState.ERRORING else None,
        charged=plan.charged,
        cancelled_by=cancelled_by,
        circuit=after,
        circuit_change=circuits.transition(before, after),
        throttle=throttle,
    )
    end = AttemptEnd(claim.export_id, claim.claim_token, tuple(reports), current, plan.next_attempt_at, plan.charged)
    return attempt, end


def _throttle_after(
    uow: UnitOfWork,
    claim: ClaimedExport,
    retry_after: float,
    now: datetime,
    deps: ExportWorkDeps,
    decided: Sequence[AttemptEnd] = (),
) -> tuple[throttling.Throttle | None, datetime | None]:
    """After a 429: the system's throttle if this changed it (and stored it), and until
    when the system is paused. The claims of the `decided` ends, which the group writes
    at its end, are no longer in flight."""
    before = uow.throttles.throttle(claim.external_system_id)
    ended = [end.export_id for end in decided]
    held, earliest_until = uow.throttles.claims_in_flight(claim.external_system_id, now, ended)
    oldest = None if earliest_until is None else earliest_until - timedelta(seconds=deps.claim_seconds)
    after = throttling.after_rate_limit(before, now, retry_after, throttling.observed_rate(held, oldest, now))
    if after == before:
        return None, after.until
    uow.throttles.save(claim.external_system_id, after, now)
    return after, after.until


def release_claims(deps: ExportWorkDeps, claim_token: str, export_ids: Sequence[int] | None = None) -> int:
    """End claims made under `claim_token` (only those of `export_ids`, if given) now,
    so that their exports are taken again at once, not when the claims expire."""
    with deps.unit_of_work() as uow:
        released = uow.queue.release(claim_token, deps.clock.now(), export_ids)
        uow.commit()
    return released
