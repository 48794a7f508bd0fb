"""The in-memory export queue and offices, with the same claim rules as the SQL one."""

from __future__ import annotations

import attrs

from adapters.memory.store import InMemoryStore, Work
from application.ports import ClaimedExport, ExportQueue, OfficeRepository
from domain.exports import ExportState, Progress, ProgressReport

_WAITING = (ExportState.QUEUED, ExportState.ERRORING)


class InMemoryExportQueue(ExportQueue):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def _work(self, export_id: int) -> Work:
        return self.store.work.get(export_id, Work())

    def _is_due(self, export_id, now) -> bool:
        export, work = self.store.exports[export_id], self._work(export_id)
        if export.command_uuid is None:  # queued by the Rails side, not by this service
            return False
        if export.state in _WAITING:
            return work.next_attempt_at is None or work.next_attempt_at <= now
        return export.state is ExportState.IN_PROGRESS and work.claimed_until is not None and work.claimed_until < now

    def claim_due(self, now, limit, claimed_until, claim_token) -> list[ClaimedExport]:
        due = [export_id for export_id in sorted(self.store.exports) if self._is_due(export_id, now)][:limit]
        claims = []
        for export_id in due:
            work = attrs.evolve(
                self._work(export_id),
                attempts=self._work(export_id).attempts + 1,
                claim_token=claim_token,
                claimed_until=claimed_until,
            )
            self.store.work[export_id] = work
            claims.append(self._claim(export_id, work))
        return claims

    def _claim(self, export_id: int, work: Work) -> ClaimedExport:
        export = self.store.exports[export_id]
        system = self.store.external_systems[export.external_system_id]
        return ClaimedExport(
            export_id=export_id,
            claim_token=work.claim_token,
            attempt=work.attempts,
            response_id=export.resource_id,
            case_number=self.store.case_numbers[export.resource_id],
            external_system_id=system.id,
            case_type_id=system.configuration("case_type_id"),
            response_remote_office=system.response_remote_office,
            progress=Progress(export.state, export.percent_complete, export.message, export.external_data),
        )

    def record(self, export_id, claim_token, report, progress, now, next_attempt_at=None, release=False) -> bool:
        if self._work(export_id).claim_token != claim_token:
            return False
        self._store(export_id, report, progress)
        if release:
            self.store.work[export_id] = attrs.evolve(
                self._work(export_id), claim_token=None, claimed_until=None, next_attempt_at=next_attempt_at
            )
        return True

    def record_all(self, records, now) -> None:
        for export_id, report, progress in records:
            self._store(export_id, report, progress)

    def release(self, claim_token, now, export_ids=None) -> int:
        held = [
            export_id
            for export_id, work in self.store.work.items()
            if work.claim_token == claim_token and (export_ids is None or export_id in export_ids)
        ]
        for export_id in held:
            self.store.work[export_id] = attrs.evolve(self._work(export_id), claim_token=None, claimed_until=now)
        return len(held)

    def _store(self, export_id: int, report: ProgressReport, progress: Progress) -> None:
        export = self.store.exports[export_id]
        self.store.exports[export_id] = attrs.evolve(
            export,
            state=progress.state,
            percent_complete=progress.percent_complete,
            message=progress.message,
            external_data=progress.external_data,
            events=(*export.events, report.as_event()),
        )


class InMemoryOfficeRepository(OfficeRepository):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def codes_by_name(self) -> dict[str, int]:
        return dict(self.store.offices)

    def assign_response(self, response_id: int, office_code: int) -> None:
        self.store.response_offices[response_id] = office_code
