"""The in-memory export queue, circuits and offices, with the same rules as the SQL ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from adapters.memory.store import InMemoryStore, Work, update_control
from application.operations_ports import SystemControl
from application.ports import CircuitBreakers, ClaimedExport, ExportQueue, Holding, OfficeRepository
from domain.circuits import Circuit, CircuitState, start_probe
from domain.exports import ExportState, Progress, ProgressReport
from domain.throttling import Throttle

_WAITING = (ExportState.QUEUED, ExportState.ERRORING)


class InMemoryExportQueue(ExportQueue):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def _work(self, export_id: int) -> Work:
        return self.store.work.get(export_id, Work())

    def is_due(self, export_id, now) -> bool:
        export, work = self.store.exports[export_id], self._work(export_id)
        if export.command_uuid is None:  # queued by the Rails side, not by this service
            return False
        if export.state in _WAITING:
            return work.next_attempt_at is None or work.next_attempt_at <= now
        return export.state is ExportState.IN_PROGRESS and work.claimed_until is not None and work.claimed_until < now

    def _held(self, export_id: int, now) -> bool:
        """Its system is paused, its circuit is not closed, or its throttle pauses or paces it."""
        control = self.store.system_controls.get(self.store.exports[export_id].external_system_id)
        if control is None:
            return False
        throttle = throttle_of(control)
        return (
            control.paused_at is not None
            or control.circuit_state != CircuitState.CLOSED
            or throttle.paused(now)
            or throttle.rate_at(now) is not None
        )

    def claim_due(self, now, limit, claimed_until, claim_token, probe_systems=(), paced=None) -> list[ClaimedExport]:
        # Oldest due first, as the SQL queue orders them (next_attempt_at, id); an export
        # never scheduled is due since it was queued.
        def since(export_id: int) -> datetime:
            return self._work(export_id).next_attempt_at or self.store.exports[export_id].created_at

        due = sorted(
            (export_id for export_id in self.store.exports if self.is_due(export_id, now)),
            key=lambda export_id: (since(export_id), export_id),
        )

        def of_system(system_id: int) -> list[int]:
            return [export_id for export_id in due if self.store.exports[export_id].external_system_id == system_id]

        probes = [of_system(system_id)[0] for system_id in probe_systems if of_system(system_id)]
        slots = {system_id: free for system_id, free in (paced or {}).items() if free > 0}
        kept = min(sum(slots.values()), (limit - len(probes)) // 2)  # half the room for paced slots, as in SQL
        rest = [export_id for export_id in due if not self._held(export_id, now)][: max(0, limit - kept - len(probes))]
        slotted = [export_id for system_id, free in slots.items() for export_id in of_system(system_id)[:free]]
        chosen = (probes + rest + slotted)[:limit]
        claims = []
        for export_id in chosen:
            work = attrs.evolve(
                self._work(export_id),
                attempts=self._work(export_id).attempts + 1,
                claim_token=claim_token,
                claimed_until=claimed_until,
            )
            self.store.work[export_id] = work
            claims.append(self._claim(export_id, work, probe=export_id in probes))
        return claims

    def holdings(self, export_ids) -> dict[int, Holding]:
        # Locked as everything in the store is: by the unit of work.
        works = {
            export_id: self._work(export_id) for export_id in sorted(export_ids) if export_id in self.store.exports
        }
        return {export_id: Holding(work.claim_token, work.cancel_requested_by) for export_id, work in works.items()}

    def make_due(self, system_id, now) -> int:
        waiting = [
            export_id
            for export_id, export in self.store.exports.items()
            if export.external_system_id == system_id
            and export.command_uuid is not None
            and export.state in _WAITING
            and (self._work(export_id).next_attempt_at or now) > now
        ]
        for export_id in waiting:
            self.store.work[export_id] = attrs.evolve(self._work(export_id), next_attempt_at=now)
        return len(waiting)

    def _claim(self, export_id: int, work: Work, probe: bool) -> ClaimedExport:
        export = self.store.exports[export_id]
        system = self.store.external_systems[export.external_system_id]
        return ClaimedExport(
            export_id=export_id,
            claim_token=work.claim_token,
            attempt=work.attempts,
            response_id=export.resource_id,
            case_number=self.store.case_numbers.get(export.resource_id),
            response_exists=export.resource_id in self.store.response_ids,
            external_system_id=system.id,
            external_system_reference=system.reference,
            case_type_id=system.configuration("case_type_id"),
            response_remote_office=system.response_remote_office,
            progress=Progress(export.state, export.percent_complete, export.message, export.external_data),
            probe=probe,
            cancel_requested_by=work.cancel_requested_by,
        )

    def end_attempts(self, ends, now) -> None:
        for end in ends:
            work = self._work(end.export_id)
            if work.claim_token != end.claim_token:
                raise RuntimeError(f"the claim of export {end.export_id} was not held")
        for end in ends:
            work = self._work(end.export_id)
            self._store(end.export_id, end.reports, end.progress)
            self.store.work[end.export_id] = attrs.evolve(
                work,
                claim_token=None,
                claimed_until=None,
                next_attempt_at=end.next_attempt_at,
                cancel_requested_by=None,
                attempts=work.attempts if end.charged else work.attempts - 1,
            )

    def record_all(self, records, now) -> None:
        for export_id, report, progress in records:
            self._store(export_id, (report,), progress)

    def release(self, claim_token, now, export_ids=None) -> int:
        held = [
            export_id
            for export_id, work in self.store.work.items()
            if work.claim_token == claim_token and (export_ids is None or export_id in export_ids)
        ]
        for export_id in held:
            self.store.work[export_id] = attrs.evolve(self._work(export_id), claim_token=None, claimed_until=now)
        return len(held)

    def _store(self, export_id: int, reports: Sequence[ProgressReport], progress: Progress) -> None:
        export = self.store.exports[export_id]
        self.store.exports[export_id] = attrs.evolve(
            export,
            state=progress.state,
            percent_complete=progress.percent_complete,
            message=progress.message,
            external_data=progress.external_data,
            events=(*export.events, *(report.as_event() for report in reports)),
        )


class InMemoryCircuitBreakers(CircuitBreakers):
    def __init__(self, store: InMemoryStore):
        self.store = store
        self.queue = InMemoryExportQueue(store)

    def circuit(self, system_id) -> Circuit:
        control = self.store.system_controls.get(system_id)
        return Circuit() if control is None else circuit_of(control)

    def save(self, system_id, circuit, now) -> None:
        update_control(
            self.store,
            system_id,
            now,
            circuit_state=circuit.state.value,
            consecutive_failures=circuit.consecutive_failures,
            circuit_opened_at=circuit.opened_at,
            next_probe_at=circuit.next_probe_at,
            probe_interval_seconds=circuit.probe_interval_seconds,
            last_failure=circuit.last_failure,
        )

    def start_probes(self, now, hold_until) -> list[int]:
        due_systems = {
            self.store.exports[export_id].external_system_id
            for export_id in self.store.exports
            if self.queue.is_due(export_id, now)
        }
        probes = []
        for system_id, control in sorted(self.store.system_controls.items()):
            probing = start_probe(circuit_of(control), now, hold_until)
            free = control.paused_at is None and not throttle_of(control).paused(now)
            if probing is not None and free and system_id in due_systems:
                self.save(system_id, probing, now)
                probes.append(system_id)
        return probes


def circuit_of(control: SystemControl) -> Circuit:
    return Circuit(
        state=CircuitState(control.circuit_state),
        consecutive_failures=control.consecutive_failures,
        opened_at=control.circuit_opened_at,
        next_probe_at=control.next_probe_at,
        probe_interval_seconds=control.probe_interval_seconds,
        last_failure=control.last_failure,
    )


def throttle_of(control: SystemControl) -> Throttle:
    return Throttle(
        until=control.throttled_until,
        rate=control.throttle_rate,
        cut_at=control.throttle_cut_at,
        next_call_at=control.next_call_at,
    )


class InMemoryOfficeRepository(OfficeRepository):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def codes_by_name(self) -> dict[str, int]:
        return dict(self.store.offices)

    def assign_response(self, response_id: int, office_code: int) -> None:
        self.store.response_offices[response_id] = office_code
