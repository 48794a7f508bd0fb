"""The erroring and failed exports in lines a person reads: which, when tried next, and why;
and the external systems whose exports are held back (paused, or their circuit open).

For `status`: a bounded number of each state (the newest first), then "and K more". The
error is CCD's text: every character a terminal would act on (an escape sequence, a
carriage return) is shown escaped, so that an error message cannot rewrite the screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from application.export_status import ExportFilters, ExportPage, ExportReader, ExportView
from application.system_status import SystemReader, SystemView
from domain.exports import PENDING_STATES, ExportState
from entrypoints.cli.terminal import printable

SHOWN = 5  # exports of each state listed, at most
# In the order the progress bar counts them and the listing shows them.
STATES = (ExportState.FAILED.value, ExportState.ERRORING.value)
_LISTED = (ExportState.ERRORING, ExportState.FAILED)
_WAITING = tuple(state for state in ExportState if state in PENDING_STATES)


def listing(reader: ExportReader, command_uuid: str | None, counts: dict[str, int], now: datetime) -> list[str]:
    """The erroring exports, then the failed ones: a heading each, then one line an export."""
    lines = []
    for state, page in _pages(reader, command_uuid, counts):
        shown, total = len(page.exports), page.total
        heading = f"{state.value.capitalize()} exports ({total}"
        lines.append(f"{heading}, the newest {shown}):" if total > shown else f"{heading}):")
        lines += [f"  {describe(export, now)}" for export in page.exports]
        if total > shown:
            lines.append(f"  and {total - shown} more")
    return lines


def held_back(systems: SystemReader, now: datetime) -> list[str]:
    """A heading and a line for each system that is paused or whose circuit is not closed."""
    lines = [f"  {describe_system(system, now)}" for system in systems.systems() if _holding(system)]
    return ["Held back:", *lines] if lines else []


class Told:
    """What `status --follow` has said already: an export is told again only when it moved on
    (another attempt failed, or it failed for good); a system when it is paused, resumed, or
    its circuit changes state."""

    def __init__(self) -> None:
        self.told: dict[int, tuple[ExportState, int]] = {}
        self.systems: dict[int, tuple[bool, str]] = {}

    def system_news(self, systems: SystemReader, now: datetime) -> list[str]:
        lines = []
        for system in systems.systems():
            standing = (system.paused, system.circuit.state)
            # A system first seen running is no news; one seen held back is.
            if self.systems.get(system.id, (False, "closed")) != standing:
                lines.append(describe_system(system, now))
            self.systems[system.id] = standing
        return lines

    def news(self, reader: ExportReader, command_uuid: str | None, counts: dict[str, int], now: datetime) -> list[str]:
        """A line for each of the listed exports that went erroring or failed since last asked."""
        lines = []
        for _state, page in _pages(reader, command_uuid, counts):
            for export in page.exports:
                if self.told.get(export.id) != (export.state, export.attempts):
                    self.told[export.id] = (export.state, export.attempts)
                    lines.append(describe(export, now))
        return lines


def describe(export: ExportView, now: datetime) -> str:
    """`export 12 (response 18 to system 43): attempt 2 failed, next attempt ... (in 3 min): <error>`"""
    which = f"export {export.id} (response {export.response_id} to system {export.external_system_id})"
    if export.state is ExportState.FAILED:
        plural = "" if export.attempts == 1 else "s"
        what = f"failed after {export.attempts} attempt{plural}"
    elif export.next_attempt_at is None:
        what = f"attempt {export.attempts} failed, no attempt scheduled"
    else:
        what = f"attempt {export.attempts} failed, next attempt {when(export.next_attempt_at, now)}"
    return f"{which}: {what}: {printable(export.last_error or 'no error recorded')}"


def describe_system(system: SystemView, now: datetime) -> str:
    """`system 43 (CCD 43) is paused since ... by alice; 3 queued wait`, or its circuit, or that it runs."""
    which = f"system {system.id} ({printable(system.name)})"
    if not _holding(system):
        return f"{which} is running: paused no more, circuit closed"
    standing = []
    if system.paused:
        since = f" since {when(system.paused_at, now)}" if system.paused_at else ""
        standing.append(f"is paused{since} by {printable(system.paused_by or 'an operator')}")
    circuit = system.circuit
    if circuit.state != "closed":
        probe = f", next probe {when(circuit.next_probe_at, now)}" if circuit.next_probe_at else ""
        last = f", last failure: {printable(circuit.last_failure)}" if circuit.last_failure else ""
        failures = f"after {circuit.consecutive_failures} failures in a row"
        standing.append(f"has its circuit {circuit.state.replace('_', '-')} {failures}{probe}{last}")
    waiting = [f"{system.exports.get(state.value, 0)} {state.value}" for state in _WAITING]
    return f"{which} {' and '.join(standing)}; waiting: {', '.join(waiting)}"


def _holding(system: SystemView) -> bool:
    return system.paused or system.circuit.state != "closed"


def when(moment: datetime, now: datetime) -> str:
    """`2026-12-02 01:20:00 UTC (in 3 min)`"""
    seconds = round((moment - now).total_seconds())
    size = abs(seconds)
    span = f"{size} s" if size < 60 else f"{round(size / 60)} min" if size < 3600 else f"{round(size / 3600)} h"
    relative = "now" if size < 2 else f"in {span}" if seconds > 0 else f"{span} ago"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({relative})"


def _pages(
    reader: ExportReader, command_uuid: str | None, counts: dict[str, int]
) -> Iterator[tuple[ExportState, ExportPage]]:
    """(state, its newest exports) for each listed state that has any: no query for the others."""
    for state in _LISTED:
        if counts.get(state.value):
            yield state, reader.find(ExportFilters(state=state, command_uuid=command_uuid), 1, SHOWN)
