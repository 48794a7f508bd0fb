"""The operators' actions on the in-memory store, with the SQL adapter's conditions."""

from __future__ import annotations

import uuid

import attrs

from adapters.memory.store import InMemoryStore, Work, update_control
from application.operations_ports import ExportActions, RetryFilters, SystemControls
from domain.exports import PENDING_STATES, Export, ExportEvent, ExportState
from domain.operations import CANCELLABLE_STATES, RETRYABLE_STATES, ExportStanding


def _key(export: Export) -> tuple[str, int, int]:
    return (export.resource_type, export.resource_id, export.external_system_id)


class InMemoryExportActions(ExportActions):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def _work(self, export_id: int) -> Work:
        return self.store.work.get(export_id, Work())

    def _pending_sibling(self, export_id: int) -> int | None:
        export = self.store.exports[export_id]
        for other_id, other in sorted(self.store.exports.items()):
            if (
                other_id != export_id
                and other.command_uuid is not None
                and other.state in PENDING_STATES
                and _key(other) == _key(export)
            ):
                return other_id
        return None

    def standing(self, export_id: int) -> ExportStanding | None:
        export = self.store.exports.get(export_id)
        if export is None:
            return None
        return ExportStanding(export.state, export.command_uuid is not None, self._pending_sibling(export_id))

    def _is(self, export_id: int, states) -> bool:
        export = self.store.exports.get(export_id)
        return export is not None and export.command_uuid is not None and export.state in states

    def requeue(self, export_id, event, now) -> bool:
        if not self._is(export_id, RETRYABLE_STATES) or self._pending_sibling(export_id) is not None:
            return False
        self._requeue(export_id, event, now)
        return True

    def _requeue(self, export_id: int, event: ExportEvent, now) -> None:
        self._change(export_id, event, state=ExportState.QUEUED, percent_complete=0, message=event.message)
        self.store.work[export_id] = Work(attempts=0, next_attempt_at=now)

    def requeue_matching(self, filters: RetryFilters, event: ExportEvent, now) -> int:
        states = RETRYABLE_STATES if filters.state is None else {filters.state}
        newest: dict[tuple[str, int, int], int] = {}
        for export_id, export in sorted(self.store.exports.items()):
            if self._is(export_id, states) and _matches(export, filters) and self._pending_sibling(export_id) is None:
                newest[_key(export)] = export_id  # ids grow: the last one seen is the newest
        for export_id in newest.values():
            self._requeue(export_id, attrs.evolve(event, uuid=str(uuid.uuid4())), now)
        return len(newest)

    def cancel(self, export_id, event, now) -> bool:
        if not self._is(export_id, CANCELLABLE_STATES):
            return False
        self._change(export_id, event, state=ExportState.FAILED, percent_complete=0, message=event.message)
        self.store.work[export_id] = attrs.evolve(self._work(export_id), next_attempt_at=None)
        return True

    def request_cancel(self, export_id, event, actor, now) -> bool:
        if not self._is(export_id, {ExportState.IN_PROGRESS}) or self._work(export_id).cancel_requested_by:
            return False
        self._change(export_id, event)
        self.store.work[export_id] = attrs.evolve(self._work(export_id), cancel_requested_by=actor)
        return True

    def _change(self, export_id: int, event: ExportEvent, **values) -> None:
        export = self.store.exports[export_id]
        self.store.exports[export_id] = attrs.evolve(export, events=(*export.events, event), **values)


def _matches(export: Export, filters: RetryFilters) -> bool:
    return (filters.external_system_id is None or export.external_system_id == filters.external_system_id) and (
        filters.command_uuid is None or export.command_uuid == filters.command_uuid
    )


class InMemorySystemControls(SystemControls):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def exists(self, system_id: int) -> bool:
        return system_id in self.store.external_systems

    def pause(self, system_id, actor, now) -> None:
        control = self.store.system_controls.get(system_id)
        already = control is not None and control.paused_at is not None  # paused first by someone: kept
        update_control(self.store, system_id, now, **({} if already else {"paused_at": now, "paused_by": actor}))

    def resume(self, system_id, now) -> int:
        control = self.store.system_controls.get(system_id)
        if control is not None:
            self.store.system_controls[system_id] = attrs.evolve(
                control, paused_at=None, paused_by=None, updated_at=now
            )
        made_due = 0
        for export_id, export in self.store.exports.items():
            work = self.store.work.get(export_id, Work())
            waiting = (
                export.external_system_id == system_id
                and export.command_uuid is not None
                and export.state in (ExportState.QUEUED, ExportState.ERRORING)
            )
            if waiting and (work.next_attempt_at is None or work.next_attempt_at > now):
                self.store.work[export_id] = attrs.evolve(work, next_attempt_at=now)
                made_due += 1
        return made_due
