"""In-memory repositories and command log, keeping the SQL unique keys' promises."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import attrs

from adapters.memory.store import InMemoryStore, Work
from application.ports import (
    CommandLog,
    ExportRepository,
    ExternalSystemRepository,
    LoggedCommand,
    ResponseRepository,
    WriteConflict,
)
from domain.exports import Export, queue_response_export
from domain.external_systems import ExternalSystem


class InMemoryExternalSystemRepository(ExternalSystemRepository):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def get(self, system_id: int) -> ExternalSystem | None:
        return self.store.external_systems.get(system_id)


class InMemoryResponseRepository(ResponseRepository):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def existing_ids(self, response_ids: Collection[int]) -> set[int]:
        return {rid for rid in response_ids if rid in self.store.response_ids}


class InMemoryExportRepository(ExportRepository):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def pending_response_ids(self, system_id: int, response_ids: Collection[int]) -> set[int]:
        wanted = set(response_ids)
        return {
            export.resource_id
            for export in self.store.exports.values()
            if export.external_system_id == system_id
            and export.resource_id in wanted
            and not export.state.is_final
        }

    def queue_responses(self, command_uuid, system_id, response_ids, now) -> None:
        for response_id in response_ids:
            export = queue_response_export(response_id, system_id, command_uuid, now, str(uuid.uuid4()))
            key = (export.resource_type, export.resource_id, export.external_system_id)
            if any(_pending_key(other) == key for other in self.store.exports.values()):
                raise WriteConflict(f"a pending export of {key} exists")
            new_id = max(self.store.exports, default=0) + 1
            self.store.exports[new_id] = attrs.evolve(export, id=new_id)
            self.store.work[new_id] = Work(next_attempt_at=export.created_at)


def _pending_key(export: Export):
    if export.state.is_final:
        return None
    return (export.resource_type, export.resource_id, export.external_system_id)


class InMemoryCommandLog(CommandLog):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def get(self, uuid: str) -> LoggedCommand | None:
        return self.store.commands.get(uuid)

    def add(self, command: LoggedCommand) -> None:
        if command.uuid in self.store.commands:
            raise WriteConflict(f"command {command.uuid} is logged already")
        self.store.commands[command.uuid] = command
