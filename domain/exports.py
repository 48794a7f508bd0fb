"""Exports of a resource to an external system, and the events that record progress."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from attrs import field, frozen


class ExportState(str, enum.Enum):
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


@frozen
class ExportEvent:
    uuid: str
    state: ExportState
    percent_complete: int | None
    message: str
    data: dict[str, Any] = field(factory=dict)


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
    events: tuple[ExportEvent, ...] = field(default=(), converter=tuple)
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
        events=(ExportEvent(event_uuid, ExportState.QUEUED, 0, QUEUED_MESSAGE),),
    )
