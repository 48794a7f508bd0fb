"""The export reader on the in-memory store.

Domain exports carry no update time and their events no time at all: here both read
as the export's creation time. Ids stand for the order of creation, as in SQL.
"""

from __future__ import annotations

import attrs

from adapters.memory.store import InMemoryStore, Work
from application.export_status import (
    EventView,
    ExportFilters,
    ExportPage,
    ExportReader,
    ExportView,
    zero_counts,
)
from domain.exports import RESPONSE, Export


class InMemoryExportReader(ExportReader):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def _committed(self) -> list[tuple[Export, Work]]:
        # Units of work swap whole tables in on commit: a snapshot under the lock is consistent.
        with self.store.lock:
            exports, work = self.store.exports, self.store.work
        return [
            (attrs.evolve(export, id=export_id), work.get(export_id, Work())) for export_id, export in exports.items()
        ]

    def get(self, export_id: int) -> ExportView | None:
        with self.store.lock:
            export, work = self.store.exports.get(export_id), self.store.work.get(export_id, Work())
        return None if export is None else _view(attrs.evolve(export, id=export_id), work, with_events=True)

    def find(self, filters: ExportFilters, page: int, per_page: int) -> ExportPage:
        matching = [(export, work) for export, work in self._committed() if _matches(export, filters)]
        matching.sort(key=lambda pair: (pair[0].created_at, pair[0].id), reverse=True)
        start = (page - 1) * per_page
        views = tuple(_view(export, work, with_events=False) for export, work in matching[start : start + per_page])
        return ExportPage(views, page, per_page, len(matching))

    def count_by_state(self, command_uuid: str | None = None) -> dict[str, int]:
        counts = zero_counts()
        for export, _work in self._committed():
            if command_uuid is None or export.command_uuid == command_uuid:
                counts[export.state.value] += 1
        return counts


def _matches(export: Export, filters: ExportFilters) -> bool:
    return (
        (
            filters.response_id is None
            or (export.resource_type == RESPONSE and export.resource_id == filters.response_id)
        )
        and (filters.external_system_id is None or export.external_system_id == filters.external_system_id)
        and (filters.state is None or export.state is filters.state)
        and (filters.command_uuid is None or export.command_uuid == filters.command_uuid)
    )


# What an export and its view both hold, under one name.
_SHARED = (attrs.fields_dict(ExportView).keys() & attrs.fields_dict(Export).keys()) - {"events"}


def _view(export: Export, work: Work, with_events: bool) -> ExportView:
    events = export.events if with_events else ()
    return ExportView(
        **{name: getattr(export, name) for name in _SHARED},
        response_id=export.resource_id,
        attempts=work.attempts,
        next_attempt_at=work.next_attempt_at,
        updated_at=export.created_at,
        events=tuple(EventView(**attrs.asdict(event, recurse=False), created_at=export.created_at) for event in events),
    )
