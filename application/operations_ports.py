"""Ports of the operators' actions: conditional writes to exports and each system's controls."""

from __future__ import annotations

import abc
from datetime import datetime

from attrs import frozen

from domain.exports import ExportEvent, ExportState
from domain.operations import ExportStanding


@frozen
class RetryFilters:
    """Which exports a bulk retry takes; None means any. `state` is failed or erroring (None: both)."""

    external_system_id: int | None = None
    state: ExportState | None = None
    command_uuid: str | None = None


@frozen
class SystemControl:
    """How one external system is operated (a row of export_responses_system_controls).

    The circuit and throttle columns are the worker's; operators set only the pause.
    """

    updated_at: datetime
    paused_at: datetime | None = None
    paused_by: str | None = None
    circuit_state: str = "closed"
    consecutive_failures: int = 0
    circuit_opened_at: datetime | None = None
    next_probe_at: datetime | None = None
    probe_interval_seconds: float | None = None
    last_failure: str | None = None
    throttled_until: datetime | None = None
    throttle_rate: float | None = None
    throttle_cut_at: datetime | None = None
    next_call_at: datetime | None = None


class ExportActions(abc.ABC):
    """Operators' writes to exports. Each is conditional: it changes the export only if it
    still is as the action needs (this service's, in the right state), in the statement
    that changes it, so of two operators acting at once one wins and the other is told why."""

    @abc.abstractmethod
    def standing(self, export_id: int) -> ExportStanding | None:
        """The export's state, owner and pending sibling, or None if there is no such export."""

    @abc.abstractmethod
    def requeue(self, export_id: int, event: ExportEvent, now: datetime) -> bool:
        """Queue a failed or erroring export of this service again, due `now`, with no
        attempts spent and no cancel pending, and record `event`; False, writing nothing,
        if it is not such an export or another of its response to its system is pending."""

    @abc.abstractmethod
    def requeue_matching(self, filters: RetryFilters, event: ExportEvent, now: datetime) -> int:
        """`requeue` every failed or erroring export of this service the filters match, set-based
        (a fixed number of statements), recording `event` on each under a uuid of its own; how
        many. Of several failed exports of one response to one system, only the newest is."""

    @abc.abstractmethod
    def cancel(self, export_id: int, event: ExportEvent, now: datetime) -> bool:
        """Make a queued or erroring export of this service failed with `event`'s message and
        record it; False, writing nothing, if it is not such an export."""

    @abc.abstractmethod
    def request_cancel(self, export_id: int, event: ExportEvent, actor: str, now: datetime) -> bool:
        """Mark an in-progress export of this service to be cancelled when its attempt ends,
        and record `event`; False, writing nothing, if it is not one or is marked already."""


class SystemControls(abc.ABC):
    """Each external system's pause (the circuit breaker's columns are the worker's)."""

    @abc.abstractmethod
    def exists(self, system_id: int) -> bool:
        """Whether the external system exists."""

    @abc.abstractmethod
    def pause(self, system_id: int, actor: str, now: datetime) -> None:
        """Pause the system: its exports are queued but not attempted. Pausing a paused
        system keeps who paused it first, and when."""

    @abc.abstractmethod
    def resume(self, system_id: int, now: datetime) -> int:
        """Resume the system and make its queued and erroring exports of this service due
        `now`; how many it made due."""
