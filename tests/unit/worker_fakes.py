"""The worker's use cases on in-memory adapters: the systems, and helpers to queue and run."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from adapters.memory import InMemoryStore
from application.carry_out_exports import ExportWorkDeps, carry_out, claim_due_exports
from domain.exports import ExportState, queue_response_export
from domain.external_systems import Configuration, ExternalSystem

START = datetime(2026, 1, 1, tzinfo=UTC)
MANCHESTER = ExternalSystem(
    43,
    "CCD Manchester",
    "ccd_manchester",
    export_responses=True,
    configurations=(
        Configuration("case_type_id", "Manchester_Dev"),
        Configuration("password", "hunter2", can_read=False),
    ),
)


def seeded_store() -> InMemoryStore:
    """Systems 43 and 60 (remote offices), responses 18 to 20, three offices."""
    store = InMemoryStore()
    store.external_systems[43] = MANCHESTER
    store.external_systems[60] = attrs.evolve(MANCHESTER, id=60, reference="reform", response_remote_office=True)
    store.offices.update({"Manchester": 24, "Glasgow": 41, "Leeds": 18})
    for rid, case_number in {18: "2412345/2024", 19: "8000001/2024", 20: "1800002/2024"}.items():
        store.response_ids.add(rid)
        store.case_numbers[rid] = case_number
    return store


def queue(store: InMemoryStore, response_id: int = 18, system_id: int = 43, at: datetime = START) -> int:
    export_id = max(store.exports, default=0) + 1
    store.exports[export_id] = attrs.evolve(
        queue_response_export(response_id, system_id, "c0mmand", at, f"queued-{export_id}"), id=export_id
    )
    return export_id


def run_once(deps: ExportWorkDeps) -> list[ExportState | None]:
    return [carry_out(claim, deps).state for claim in claim_due_exports(deps, limit=10)]


def events(store: InMemoryStore, export_id: int) -> list[tuple]:
    return [(e.state.value, e.percent_complete, e.message) for e in store.exports[export_id].events]
