"""In-memory adapters: fast fakes for tests, and a store for embedding without a database.

They keep the ports' promises: a unit of work sees its own writes, keeps none of them
unless committed, and refuses a second command under one uuid or a second pending
export of a response to a system, as the SQL schema's unique keys do.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Sequence

import attrs

from application.ports import (
    CommandLog,
    ExportRepository,
    ExternalSystemRepository,
    LoggedCommand,
    ResponseRepository,
    UnitOfWork,
    WriteConflict,
)
from domain.exports import Export
from domain.external_systems import ExternalSystem


@attrs.define
class InMemoryStore:
    external_systems: dict[int, ExternalSystem] = attrs.field(factory=dict)
    response_ids: set[int] = attrs.field(factory=set)
    exports: dict[int, Export] = attrs.field(factory=dict)
    commands: dict[str, LoggedCommand] = attrs.field(factory=dict)
    lock: threading.RLock = attrs.field(factory=threading.RLock)


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

    def add_all(self, exports: Sequence[Export]) -> None:
        for export in exports:
            key = (export.resource_type, export.resource_id, export.external_system_id)
            if any(_pending_key(other) == key for other in self.store.exports.values()):
                raise WriteConflict(f"a pending export of {key} exists")
            new_id = max(self.store.exports, default=0) + 1
            self.store.exports[new_id] = attrs.evolve(export, id=new_id)


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


class InMemoryUnitOfWork(UnitOfWork):
    """Works on a copy of the store while holding its lock; commit swaps the copy in."""

    def __init__(self, store: InMemoryStore):
        self.store = store
        self.committed = False

    def __enter__(self) -> InMemoryUnitOfWork:
        self.store.lock.acquire()
        self._working = InMemoryStore(
            external_systems=self.store.external_systems,
            response_ids=self.store.response_ids,
            exports=copy.copy(self.store.exports),
            commands=copy.copy(self.store.commands),
        )
        self.external_systems = InMemoryExternalSystemRepository(self._working)
        self.responses = InMemoryResponseRepository(self._working)
        self.exports = InMemoryExportRepository(self._working)
        self.commands = InMemoryCommandLog(self._working)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.rollback()
        finally:
            self.store.lock.release()

    def commit(self) -> None:
        self.store.exports = self._working.exports
        self.store.commands = self._working.commands
        self.committed = True

    def rollback(self) -> None:
        self._working.exports = copy.copy(self.store.exports)
        self._working.commands = copy.copy(self.store.commands)
