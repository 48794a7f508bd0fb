"""The system reader on the in-memory store."""

from __future__ import annotations

from adapters.memory.store import InMemoryStore
from application.operations_ports import SystemControl
from application.system_status import CircuitView, SystemReader, SystemView, ThrottleView, zero_system_counts


class InMemorySystemReader(SystemReader):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def systems(self) -> tuple[SystemView, ...]:
        with self.store.lock:  # units of work swap whole tables in on commit
            systems, controls, exports = self.store.external_systems, self.store.system_controls, self.store.exports
        counts: dict[int, dict[str, int]] = {}
        for export in exports.values():
            tally = counts.setdefault(export.external_system_id, zero_system_counts())
            if export.state.value in tally:
                tally[export.state.value] += 1
        return tuple(
            _view(system, controls.get(system_id), counts.get(system_id, zero_system_counts()))
            for system_id, system in sorted(systems.items())
        )

    def system(self, system_id: int) -> SystemView | None:
        return next((view for view in self.systems() if view.id == system_id), None)


def _view(system, control: SystemControl | None, counts: dict[str, int]) -> SystemView:
    if control is None:
        return SystemView(system.id, system.name, system.reference, exports=counts)
    circuit = CircuitView(
        control.circuit_state,
        control.consecutive_failures,
        control.circuit_opened_at,
        control.next_probe_at,
        control.last_failure,
    )
    throttle = ThrottleView(control.throttled_until, control.throttle_rate, control.throttle_cut_at)
    return SystemView(
        system.id, system.name, system.reference, control.paused_at, control.paused_by, circuit, throttle, counts
    )
