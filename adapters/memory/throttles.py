"""Each external system's throttle on the in-memory store, with the same rules as the SQL one."""

from __future__ import annotations

from adapters.memory.queue import throttle_of
from adapters.memory.store import InMemoryStore, update_control
from application.operations_ports import SystemControl
from application.ports import SystemThrottles
from domain.circuits import CircuitState
from domain.exports import ExportState
from domain.throttling import Throttle, claimable_at

_WAITING = (ExportState.QUEUED, ExportState.ERRORING)


class InMemorySystemThrottles(SystemThrottles):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def throttle(self, system_id) -> Throttle:
        control = self.store.system_controls.get(system_id)
        return Throttle() if control is None else throttle_of(control)

    def save(self, system_id, throttle, now) -> None:
        update_control(
            self.store,
            system_id,
            now,
            throttled_until=throttle.until,
            throttle_rate=throttle.rate,
            throttle_cut_at=throttle.cut_at,
            next_call_at=throttle.next_call_at,
        )

    def _claimable(self, control: SystemControl) -> bool:
        return control.paused_at is None and control.circuit_state == CircuitState.CLOSED

    def paced(self, now) -> dict[int, Throttle]:
        return {
            system_id: throttle_of(control)
            for system_id, control in sorted(self.store.system_controls.items())
            if self._claimable(control) and throttle_of(control).rate_at(now) is not None
        }

    def claims_in_flight(self, system_id, now, ended=()):
        held = [
            work.claimed_until
            for export_id, work in self.store.work.items()
            if export_id not in ended
            and self.store.exports[export_id].external_system_id == system_id
            and self.store.exports[export_id].state is ExportState.IN_PROGRESS
            and work.claimed_until is not None
            and work.claimed_until > now
        ]
        return len(held), min(held, default=None)

    def held_until(self, now):
        times = []
        for system_id, control in self.store.system_controls.items():
            at = claimable_at(throttle_of(control), now)
            # Exports that will be due once the pause is over (paced only: due now).
            by = max(now, control.throttled_until or now)
            if at is not None and self._claimable(control) and self._waiting_by(system_id, by):
                times.append(at)
        return min(times, default=None)

    def _waiting_by(self, system_id: int, when) -> bool:
        return any(
            export.external_system_id == system_id
            and export.command_uuid is not None
            and export.state in _WAITING
            and (self.store.work.get(export_id) is None or (self.store.work[export_id].next_attempt_at or when) <= when)
            for export_id, export in self.store.exports.items()
        )
