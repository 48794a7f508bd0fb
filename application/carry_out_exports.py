"""Use cases of the worker: claim due exports, and carry one out against CCD."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import field, frozen

from application.ccd import CcdCase, CcdFailure, CcdGateway
from application.ports import ClaimedExport, Clock, StoreUnavailable, UnitOfWork
from application.retrying import retried
from domain.exports import ExportState, ProgressReport, apply_report, erroring, exported, failed, started
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


def claim_due_exports(deps: ExportWorkDeps, limit: int, claim_token: str | None = None) -> list[ClaimedExport]:
    """Claim up to `limit` due exports and record that their attempt has started.

    Given a `claim_token`, the caller can release the claims even if this fails after
    the database committed them (an acknowledgement lost with the connection).
    """
    now = deps.clock.now()
    with deps.unit_of_work() as uow:
        claims = uow.queue.claim_due(
            now, limit, now + timedelta(seconds=deps.claim_seconds), claim_token or deps.new_uuid()
        )
        begun, records = [], []
        for claim in claims:
            report = attrs.evolve(started(deps.new_uuid()), attempt=claim.attempt)
            started_progress = apply_report(claim.progress, report)
            assert started_progress is not None, "the queue claims only exports that are not final"
            claim = attrs.evolve(claim, progress=started_progress)
            begun.append(claim)
            records.append((claim.export_id, report, claim.progress))
        uow.queue.record_all(records, now)
        uow.commit()
    return begun


def carry_out(claim: ClaimedExport, deps: ExportWorkDeps) -> ExportState | None:
    """One attempt at exporting a claimed response; the state it left the export in.

    None means the claim was lost (the worker took too long and another took over):
    nothing is recorded then, so an export is never recorded complete twice.
    """
    if claim.attempt > deps.retries.max_attempts:
        # Reclaimed after crashes more often than it may be tried: give up on it.
        return _finish(claim, deps, _Outcome((failed(deps.new_uuid()),)))
    try:
        if not claim.case_type_id:
            raise CcdFailure("the external system has no case_type_id configuration")
        case = deps.ccd.find_latest_case(claim.case_type_id, claim.case_number)
    except CcdFailure as failure:
        return _fail(claim, deps, str(failure) or type(failure).__name__)
    report = exported(deps.new_uuid(), _external_data(claim, case), case is not None)
    office = case.managing_office if case else None
    return _finish(claim, deps, _Outcome((report,), assign_office=claim.response_remote_office, office=office))


def record_crash(claim: ClaimedExport, deps: ExportWorkDeps, message: str) -> ExportState | None:
    """After an attempt that raised what no port promised: record it as a failed attempt,
    retried on the schedule like any other, which ends the claim."""
    return _fail(claim, deps, message)


def release_claims(deps: ExportWorkDeps, claim_token: str, export_ids: Sequence[int] | None = None) -> int:
    """End claims made under `claim_token` (only those of `export_ids`, if given) now,
    so that their exports are taken again at once, not when the claims expire."""
    with deps.unit_of_work() as uow:
        released = uow.queue.release(claim_token, deps.clock.now(), export_ids)
        uow.commit()
    return released


def _external_data(claim: ClaimedExport, case: CcdCase | None) -> dict[str, Any]:
    return {
        "case_id": case.id if case else None,
        "case_reference": claim.case_number,
        "case_type_id": claim.case_type_id,
        "office": case.managing_office if case else None,
    }


@frozen
class _Outcome:
    """What one attempt ends with: its reports, in order; when the export is due again
    (None: not before it is claimed anew); and the office to give the response, if any."""

    reports: tuple[ProgressReport, ...]
    next_attempt_at: datetime | None = None
    assign_office: bool = False
    office: str | None = None


def _fail(claim: ClaimedExport, deps: ExportWorkDeps, message: str) -> ExportState | None:
    report = erroring(deps.new_uuid(), message)
    delay = deps.retries.delay_after(claim.attempt)
    if delay is None:
        return _finish(claim, deps, _Outcome((report, failed(deps.new_uuid()))))
    return _finish(claim, deps, _Outcome((report,), next_attempt_at=deps.clock.now() + timedelta(seconds=delay)))


def _finish(claim: ClaimedExport, deps: ExportWorkDeps, outcome: _Outcome) -> ExportState | None:
    # The last report ends the claim in the transaction that records them all: when a
    # commit reached the database but its acknowledgement was lost, the next try finds
    # the export no longer held and records nothing twice.
    return retried(
        lambda: _record(claim, deps, outcome),
        on=StoreUnavailable,
        attempts=_RECORD_ATTEMPTS,
        pause=lambda failures: deps.pause(2 ** (failures - 1)),
    )


def _record(claim: ClaimedExport, deps: ExportWorkDeps, outcome: _Outcome) -> ExportState | None:
    now = deps.clock.now()
    current = claim.progress
    with deps.unit_of_work() as uow:
        for index, report in enumerate(outcome.reports):
            last = index == len(outcome.reports) - 1
            updated = apply_report(current, report)
            if updated is None:
                continue
            report = attrs.evolve(report, attempt=claim.attempt)
            held = uow.queue.record(
                claim.export_id,
                claim.claim_token,
                report,
                updated,
                now,
                next_attempt_at=outcome.next_attempt_at if last else None,
                release=last,
            )
            if not held:
                return None
            current = updated
        if outcome.assign_office and current.state is ExportState.COMPLETE:
            code = office_code_for(outcome.office, claim.case_number, uow.offices.codes_by_name())
            if code is not None:
                uow.offices.assign_response(claim.response_id, code)
        uow.commit()
        return current.state
