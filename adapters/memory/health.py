"""The health probes on the in-memory store: as healthy as it is told to be (always, by default)."""

from __future__ import annotations

from application.ports import DatabaseHealth


class InMemoryHealth(DatabaseHealth):
    def __init__(self, healthy: bool = True):
        self.healthy = healthy

    def answers(self) -> bool:
        return self.healthy

    def accepts_writes(self) -> bool:
        return self.healthy
