"""How an attempt's outcome is recorded: the reports, the next attempt, and whether
it is charged. Pure: `carry_out_exports` reads what it needs and applies the plan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from attrs import frozen

from application.ccd import CcdCase
from application.ports import ClaimedExport
from domain import exports as progress
from domain.circuits import Circuit
from domain.exports import ExportState, ProgressReport
from domain.failures import FailureKind
from domain.retries import RetrySchedule
from domain.throttling import Throttle


@frozen
class Outcome:
    """What one attempt learnt: a case (or that there is none), or a failure."""

    case: CcdCase | None = None
    found: bool = False
    failure: str | None = None  # safe to record and log: the gateway keeps secrets out
    kind: FailureKind | None = None
    asked_ccd: bool = True  # False: the attempt says nothing of CCD's health
    spent: bool = False  # reclaimed more often than it may be tried: not attempted
    retry_after: float | None = None  # a 429: the seconds CCD asked for (bounded)

    @property
    def office(self) -> str | None:
        return self.case.managing_office if self.case else None


@frozen
class Attempt:
    """How an attempt ended, for the worker's log. A state of None: the claim was lost
    to another worker, and nothing was recorded."""

    state: ExportState | None
    error: str | None = None
    next_attempt_at: datetime | None = None
    charged: bool = True
    cancelled_by: str | None = None
    circuit: Circuit | None = None  # the system's circuit after it
    circuit_change: str | None = None  # `domain.circuits.transition`, if it changed
    throttle: Throttle | None = None  # the system's throttle, if this attempt's 429 changed it


@frozen
class Plan:
    reports: tuple[ProgressReport, ...]
    next_attempt_at: datetime | None = None
    charged: bool = True


def plan_reports(
    claim: ClaimedExport,
    outcome: Outcome,
    circuit: Circuit,
    cancelled_by: str | None,
    retries: RetrySchedule,
    new_uuid: Callable[[], str],
    now: datetime,
    grace_seconds: float,
    throttled_until: datetime | None = None,
) -> Plan:
    """What to record of `outcome`, given the system's circuit after it and a cancel
    asked for while the attempt ran.

    A transient failure while the circuit is not closed is CCD's outage, not the
    export's: the attempt is given back and the export waits for the circuit.
    One that spends the schedule while the circuit is still closed may be the start of
    an outage the circuit has not counted yet: see `_after_the_schedule`.
    A 429 is CCD asking for patience: the attempt is given back too, and the export is
    due when the system may be called again (`throttled_until`).
    """
    if outcome.failure is None and not outcome.spent:
        report = progress.exported(new_uuid(), _external_data(claim, outcome.case), outcome.found)
        return Plan((report if cancelled_by is None else progress.exported_despite_cancel(report, cancelled_by),))
    errors = () if outcome.failure is None else (progress.erroring(new_uuid(), outcome.failure),)
    if cancelled_by is not None:
        return Plan((*errors, progress.cancelled(new_uuid(), cancelled_by)))
    if outcome.retry_after is not None:
        return Plan(errors, next_attempt_at=max(now, throttled_until or now), charged=False)
    if outcome.spent or outcome.kind is FailureKind.PERMANENT:
        return Plan((*errors, progress.failed(new_uuid())))
    if outcome.asked_ccd and not circuit.is_closed:
        # Due at the circuit's next probe, behind the system's exports that waited longer,
        # so that the next probe is another export's: one export CCD fails for reasons
        # of its own must not be the probe every time and hold its system's circuit open.
        return Plan(errors, next_attempt_at=max(now, circuit.next_probe_at or now), charged=False)
    delay = retries.delay_after(claim.attempt)
    if delay is not None:
        return Plan(errors, next_attempt_at=now + timedelta(seconds=delay))
    if outcome.asked_ccd and outcome.kind is FailureKind.TRANSIENT:
        grace = _after_the_schedule(claim, circuit, retries, errors, now + timedelta(seconds=grace_seconds))
        if grace is not None:
            return grace
    return Plan((*errors, progress.failed(new_uuid())))


def _after_the_schedule(
    claim: ClaimedExport,
    circuit: Circuit,
    retries: RetrySchedule,
    errors: tuple[ProgressReport, ...],
    later: datetime,
) -> Plan | None:
    """When a transient failure of CCD spends the schedule while the circuit is closed:
    tried again `later` rather than failed, if CCD may be going down for every export.

    The schedule's last failure gets one more attempt (charged: the grace), long enough
    after it for other exports' calls to show what CCD is doing. If the grace attempt
    fails too while the system's last call before it also failed (two or more in a row),
    that is how an outage starts: the attempt is given back and tried again, until CCD
    answers or the failures open the circuit, which then holds the export uncharged. If
    CCD answered another call in between, the failure is the export's own: None, failed.
    """
    if claim.attempt <= retries.max_attempts:
        return Plan(errors, next_attempt_at=later)
    if circuit.consecutive_failures >= 2:
        return Plan(errors, next_attempt_at=later, charged=False)
    return None


def _external_data(claim: ClaimedExport, case: CcdCase | None) -> dict[str, Any]:
    return {
        "case_id": case.id if case else None,
        "case_reference": claim.case_number,
        "case_type_id": claim.case_type_id,
        "office": case.managing_office if case else None,
    }
