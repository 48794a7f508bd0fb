"""Reading how each external system is operated: its pause, its circuit breaker, its throttle, its exports."""

from __future__ import annotations

import abc
from datetime import datetime

from attrs import field, frozen

from domain.exports import ExportState

# The states a system's exports are counted in (an export of the Rails side's not yet
# queued, `created`, is no work of the queue's).
COUNTED_STATES = (
    ExportState.QUEUED,
    ExportState.IN_PROGRESS,
    ExportState.ERRORING,
    ExportState.COMPLETE,
    ExportState.FAILED,
)


def zero_system_counts() -> dict[str, int]:
    return {state.value: 0 for state in COUNTED_STATES}


@frozen
class CircuitView:
    state: str = "closed"
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    next_probe_at: datetime | None = None
    last_failure: str | None = None


@frozen
class ThrottleView:
    """The throttle the workers share after CCD's 429s (`domain.throttling`)."""

    paused_until: datetime | None = None  # no call before then (CCD's Retry-After)
    calls_per_second: float | None = None  # the pace set by the last 429 (it grows from there)
    rate_limited_at: datetime | None = None  # that 429


@frozen
class SystemView:
    id: int
    name: str
    reference: str
    paused_at: datetime | None = None
    paused_by: str | None = None
    circuit: CircuitView = field(factory=CircuitView)
    throttle: ThrottleView = field(factory=ThrottleView)
    exports: dict[str, int] = field(factory=zero_system_counts)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


class SystemReader(abc.ABC):
    """External systems as operators see them. Never writes; timestamps are aware UTC."""

    @abc.abstractmethod
    def systems(self) -> tuple[SystemView, ...]:
        """Every external system, by id, with its exports counted by state (every key of
        COUNTED_STATES present): in a fixed number of statements, whatever the number of systems."""

    @abc.abstractmethod
    def system(self, system_id: int) -> SystemView | None:
        """One system as `systems` shows it, or None."""
