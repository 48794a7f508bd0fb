"""The in-memory store: what the SQL tables hold, as dicts, behind one lock."""

from __future__ import annotations

import threading
from datetime import datetime

import attrs

from application.operations_ports import SystemControl
from application.ports import LoggedCommand
from domain.exports import Export
from domain.external_systems import ExternalSystem


@attrs.frozen
class Work:
    """The worker's bookkeeping for one export (columns of `exports` in SQL)."""

    attempts: int = 0
    next_attempt_at: datetime | None = None
    claim_token: str | None = None
    claimed_until: datetime | None = None
    cancel_requested_by: str | None = None


@attrs.define
class InMemoryStore:
    external_systems: dict[int, ExternalSystem] = attrs.field(factory=dict)
    response_ids: set[int] = attrs.field(factory=set)
    case_numbers: dict[int, str | None] = attrs.field(factory=dict)
    offices: dict[str, int] = attrs.field(factory=dict)
    # What units of work change; each works on copies of these until it commits.
    exports: dict[int, Export] = attrs.field(factory=dict)
    commands: dict[str, LoggedCommand] = attrs.field(factory=dict)
    work: dict[int, Work] = attrs.field(factory=dict)
    response_offices: dict[int, int] = attrs.field(factory=dict)
    system_controls: dict[int, SystemControl] = attrs.field(factory=dict)
    lock: threading.RLock = attrs.field(factory=threading.RLock)


CHANGING = ("exports", "commands", "work", "response_offices", "system_controls")


def update_control(store: InMemoryStore, system_id: int, now: datetime, **values) -> SystemControl:
    """Change the system's control row (made if it has none), as an upsert does in SQL."""
    control = store.system_controls.get(system_id, SystemControl(updated_at=now))
    store.system_controls[system_id] = updated = attrs.evolve(control, updated_at=now, **values)
    return updated
