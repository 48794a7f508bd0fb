"""In-memory repositories and command log, keeping the SQL unique keys' promises."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import attrs

from adapters.memory.store import InMemoryStore, Work
from application.ports import (
    CommandFacts,
    CommandLog,
    ExportRepository,
    ExportResponsesFacts,
    LoggedCommand,
    WriteConflict,
)
from domain.exports import PENDING_STATES, RESPONSE, queue_response_export
from domain.rules import responses_to_queue


class InMemoryCommandFacts(CommandFacts):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def for_export_responses(self, uuid: str, system_id: int, response_ids: Collection[int]) -> ExportResponsesFacts:
        logged = self.store.commands.get(uuid)
        if logged is not None:
            return ExportResponsesFacts(logged)
        existing = frozenset(rid for rid in response_ids if rid in self.store.response_ids)
        return ExportResponsesFacts(None, self.store.external_systems.get(system_id), existing)


class InMemoryExportRepository(ExportRepository):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def queue_responses(self, command_uuid, system_id, response_ids, now) -> None:
        pending = {
            export.resource_id
            for export in self.store.exports.values()
            if export.resource_type == RESPONSE
            and export.external_system_id == system_id
            and export.command_uuid is not None
            and export.state in PENDING_STATES
        }
        for response_id in responses_to_queue(response_ids, pending):
            export = queue_response_export(response_id, system_id, command_uuid, now, str(uuid.uuid4()))
            new_id = max(self.store.exports, default=0) + 1
            self.store.exports[new_id] = attrs.evolve(export, id=new_id)
            self.store.work[new_id] = Work(next_attempt_at=export.created_at)


class InMemoryCommandLog(CommandLog):
    def __init__(self, store: InMemoryStore):
        self.store = store

    def accept(self, command: LoggedCommand, system_id, response_ids, now) -> None:
        if command.uuid in self.store.commands:
            raise WriteConflict(f"command {command.uuid} is logged already")
        self.store.commands[command.uuid] = command
        InMemoryExportRepository(self.store).queue_responses(command.uuid, system_id, response_ids, now)
