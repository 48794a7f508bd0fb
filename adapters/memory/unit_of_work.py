"""The in-memory unit of work: serializable, all or nothing."""

from __future__ import annotations

import copy

import attrs

from adapters.memory.operations import InMemoryExportActions, InMemorySystemControls
from adapters.memory.queue import InMemoryCircuitBreakers, InMemoryExportQueue, InMemoryOfficeRepository
from adapters.memory.repositories import (
    InMemoryCommandFacts,
    InMemoryCommandLog,
    InMemoryExportRepository,
)
from adapters.memory.store import CHANGING, InMemoryStore
from adapters.memory.throttles import InMemorySystemThrottles
from application.ports import UnitOfWork


class InMemoryUnitOfWork(UnitOfWork):
    """Works on copies of the store's tables while holding its lock; commit swaps them in."""

    def __init__(self, store: InMemoryStore):
        self.store = store
        self.committed = False

    def __enter__(self) -> InMemoryUnitOfWork:
        self.store.lock.acquire()
        self._working = attrs.evolve(self.store)
        self.rollback()
        self.facts = InMemoryCommandFacts(self._working)
        self.exports = InMemoryExportRepository(self._working)
        self.commands = InMemoryCommandLog(self._working)
        self.queue = InMemoryExportQueue(self._working)
        self.circuits = InMemoryCircuitBreakers(self._working)
        self.throttles = InMemorySystemThrottles(self._working)
        self.offices = InMemoryOfficeRepository(self._working)
        self.actions = InMemoryExportActions(self._working)
        self.controls = InMemorySystemControls(self._working)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.rollback()
        finally:
            self.store.lock.release()

    def commit(self) -> None:
        for name in CHANGING:
            setattr(self.store, name, getattr(self._working, name))
        self.committed = True

    def rollback(self) -> None:
        for name in CHANGING:
            setattr(self._working, name, copy.copy(getattr(self.store, name)))
