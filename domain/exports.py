"""Exports of a resource to an external system, and the events that record progress."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs
from attrs import field, frozen


class ExportState(enum.StrEnum):
    CREATED = "created"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    ERRORING = "erroring"
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({ExportState.COMPLETE, ExportState.FAILED})
# An export in one of these states is still going to reach CCD: no second one is queued.
PENDING_STATES = frozenset({ExportState.QUEUED, ExportState.IN_PROGRESS, ExportState.ERRORING})

RESPONSE = "Response"
QUEUED_MESSAGE = "Queued for export"
# Where an event's `data` keeps this service's own details, beside the original's keys.
SERVICE_DATA_KEY = "export_responses"


def event_data(external_data: dict[str, Any], attempt: int | None = None, by: str | None = None) -> dict[str, Any]:
    """An event's `data` as the original wrote it and the ET admin reads it: the case
    details or the error under `external_data`; the service's own details beside them
    (the attempt, and who asked for what the event records)."""
    data: dict[str, Any] = {"external_data": external_data}
    own = {name: value for name, value in (("attempt", attempt), ("by", by)) if value is not None}
    if own:
        data[SERVICE_DATA_KEY] = own
    return data


@frozen
class ExportEvent:
    uuid: str
    state: ExportState
    percent_complete: int | None
    message: str
    data: dict[str, Any] = field(factory=dict)


def _events(events: Iterable[ExportEvent]) -> tuple[ExportEvent, ...]:
    return tuple(events)


@frozen
class Export:
    """An export before or after it is stored; `id` is None until the store assigns one."""

    resource_type: str
    resource_id: int
    external_system_id: int
    state: ExportState
    percent_complete: int
    message: str | None
    command_uuid: str | None
    created_at: datetime
    external_data: dict[str, Any] = field(factory=dict)
    events: tuple[ExportEvent, ...] = field(default=(), converter=_events)
    id: int | None = None


def queue_response_export(
    response_id: int, external_system_id: int, command_uuid: str, now: datetime, event_uuid: str
) -> Export:
    """A new export of one response, queued, with the event that says so."""
    return Export(
        resource_type=RESPONSE,
        resource_id=response_id,
        external_system_id=external_system_id,
        state=ExportState.QUEUED,
        percent_complete=0,
        message=QUEUED_MESSAGE,
        command_uuid=command_uuid,
        created_at=now,
        events=(ExportEvent(event_uuid, ExportState.QUEUED, 0, QUEUED_MESSAGE, event_data({})),),
    )


STARTED_MESSAGE = "Response export started"
EXPORTED_MESSAGE = "Response exported"
ERRORING_MESSAGE = "Response erroring"
FAILED_MESSAGE = "Response failed to export"
CANCELLED_MESSAGE = "Cancelled by an operator"


@frozen
class Progress:
    """Where an export stands: what the exports row shows."""

    state: ExportState
    percent_complete: int
    message: str | None
    external_data: dict[str, Any] = field(factory=dict)


@frozen
class ProgressReport:
    """One step of an export, recorded as one export event. Its uuid makes it idempotent."""

    uuid: str
    state: ExportState
    percent_complete: int | None
    message: str
    external_data: dict[str, Any] = field(factory=dict)
    attempt: int | None = None  # the attempt of the export it reports on, when known
    by: str | None = None  # the operator who asked for it, when one did

    def as_event(self) -> ExportEvent:
        data = event_data(self.external_data, self.attempt, self.by)
        return ExportEvent(self.uuid, self.state, self.percent_complete, self.message, data)


def apply_report(current: Progress, report: ProgressReport) -> Progress | None:
    """The export's progress after `report`, or None when the report must not change it.

    Final states are final: a late or repeated report never changes a complete or
    failed export. Otherwise the report's non-null values win and `external_data`
    is merged, key by key.
    """
    if current.state.is_final:
        return None
    return Progress(
        state=report.state,
        percent_complete=current.percent_complete if report.percent_complete is None else report.percent_complete,
        message=report.message,
        external_data={**current.external_data, **report.external_data},
    )


def started(uuid: str) -> ProgressReport:
    return ProgressReport(uuid, ExportState.IN_PROGRESS, 0, STARTED_MESSAGE)


def exported(uuid: str, external_data: dict[str, Any], case_found: bool) -> ProgressReport:
    message = EXPORTED_MESSAGE if case_found else f"{EXPORTED_MESSAGE}; no case was found in CCD"
    return ProgressReport(uuid, ExportState.COMPLETE, 100, message, external_data)


def erroring(uuid: str, error_message: str) -> ProgressReport:
    return ProgressReport(uuid, ExportState.ERRORING, None, ERRORING_MESSAGE, {"error": {"message": error_message}})


def failed(uuid: str) -> ProgressReport:
    return ProgressReport(uuid, ExportState.FAILED, 0, FAILED_MESSAGE)


def cancelled(uuid: str, by: str) -> ProgressReport:
    return ProgressReport(uuid, ExportState.FAILED, 0, CANCELLED_MESSAGE, by=by)


def exported_despite_cancel(report: ProgressReport, by: str) -> ProgressReport:
    """An export that completed in CCD while `by` asked to cancel it: complete it is
    (the case is found and recorded), and its event says why the cancel did not apply."""
    message = f"{report.message}; not cancelled: the attempt had completed in CCD when {by} asked"
    return attrs.evolve(report, message=message, by=by)
