"""Reading where exports stand: the read port and the values it returns.

Reads never go through the unit of work: they change nothing, and on SQLite a unit of
work takes the write lock up front (see adapters/sql/engine.py).
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

from attrs import field, frozen

from domain.exports import ERRORING_MESSAGE, FAILED_MESSAGE, ExportState

# The messages that only name the state: the error itself is under external_data's "error".
_STATE_MESSAGES = frozenset({ERRORING_MESSAGE, FAILED_MESSAGE})

# How many exports a page of a listing holds, unless asked (DEFAULT), and at most (MAX).
DEFAULT_PER_PAGE, MAX_PER_PAGE = 50, 500


@frozen
class EventView:
    """One progress report of an export, as recorded. The Rails side's rows may have no
    uuid and no state (both columns are nullable there): shown as null, not refused."""

    uuid: str | None
    state: ExportState | None
    percent_complete: int | None
    message: str | None
    data: dict[str, Any]
    created_at: datetime


@frozen
class ExportView:
    """An export as a reader sees it; `events` is empty unless asked for (see ExportReader.get)."""

    id: int
    state: ExportState
    percent_complete: int
    message: str | None
    external_data: dict[str, Any]
    resource_type: str
    response_id: int
    external_system_id: int
    command_uuid: str | None
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    events: tuple[EventView, ...] = field(default=(), converter=tuple)

    @property
    def last_error(self) -> str | None:
        """What went wrong, for an export that is erroring or failed: its message, unless that
        only names the state ("Response erroring"); then the error of its last attempt."""
        if self.message and self.message not in _STATE_MESSAGES:
            return self.message
        error = self.external_data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        return self.message


@frozen
class ExportFilters:
    """Which exports to list; None means any. Every given filter must hold."""

    response_id: int | None = None
    external_system_id: int | None = None
    state: ExportState | None = None
    command_uuid: str | None = None


@frozen
class ExportPage:
    """One page of a listing; `total` counts every export the filters match."""

    exports: tuple[ExportView, ...] = field(converter=tuple)
    page: int
    per_page: int
    total: int


class ExportReader(abc.ABC):
    """Where exports stand, for people and clients watching them. Never writes.

    Every timestamp it returns is timezone-aware UTC.
    """

    @abc.abstractmethod
    def get(self, export_id: int) -> ExportView | None:
        """The export with its events in the order they were recorded, or None."""

    @abc.abstractmethod
    def find(self, filters: ExportFilters, page: int, per_page: int) -> ExportPage:
        """Page `page` (from 1) of the matching exports, newest first, without their events.

        A page past the last one holds no exports but still the total.
        """

    @abc.abstractmethod
    def count_by_state(self, command_uuid: str | None = None) -> dict[str, int]:
        """How many exports (of one command, or all) are in each state.

        Every state of ExportState is a key, in the enum's order, zero when none is in it.
        """


def zero_counts() -> dict[str, int]:
    return {state.value: 0 for state in ExportState}
