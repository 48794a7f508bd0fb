"""The worker loop on the in-memory store: claims in batches, every export carried out once."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import UTC, datetime

import attrs

from adapters.clock import SystemClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from adapters.memory.ccd import InMemoryCcdGateway
from application.carry_out_exports import ExportWorkDeps
from domain.exports import queue_response_export
from domain.external_systems import Configuration, ExternalSystem
from entrypoints import worker as worker_module
from entrypoints.worker import Worker

START = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEM = ExternalSystem(
    43,
    "CCD Manchester",
    "ccd_manchester",
    export_responses=True,
    configurations=(Configuration("case_type_id", "Manchester_Dev"),),
)


class SlowCcd(InMemoryCcdGateway):
    """Answers after a few milliseconds, as a remote CCD would, so that exports overlap."""

    def find_latest_case(self, case_type_id, case_number):
        time.sleep(0.005)
        return super().find_latest_case(case_type_id, case_number)


def queued_store(count: int) -> InMemoryStore:
    store = InMemoryStore()
    store.external_systems[43] = SYSTEM
    for export_id in range(1, count + 1):
        store.response_ids.add(export_id)
        store.case_numbers[export_id] = f"24{export_id:05d}/2024"
        export = queue_response_export(export_id, 43, "c0mmand", START, f"queued-{export_id}")
        store.exports[export_id] = attrs.evolve(export, id=export_id)
    return store


def test_claims_come_in_batches_of_at_least_half_the_free_slots(monkeypatch):
    store = queued_store(24)
    counter = itertools.count(1)
    deps = ExportWorkDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        ccd=SlowCcd(),
        clock=SystemClock(),
        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
    )
    asked: list[int] = []
    claimed: list[int] = []
    claim = worker_module.claim_due_exports

    def counting_claims(deps, limit, claim_token=None):
        asked.append(limit)
        claims = claim(deps, limit, claim_token)
        claimed.append(len(claims))
        return claims

    monkeypatch.setattr(worker_module, "claim_due_exports", counting_claims)
    outcomes = Worker(deps, concurrency=4, poll_seconds=0.01).run(drain=True)

    assert outcomes == {"complete": 24}
    assert [export.state.value for export in store.exports.values()] == ["complete"] * 24
    assert asked and min(asked) >= 2, asked
    productive = [count for count in claimed if count]
    assert sum(productive) == 24 and len(productive) <= 24 // 2, claimed  # one claim per export: 24


def idle_worker(store: InMemoryStore, ccd: InMemoryCcdGateway, told: list[str]) -> tuple[Worker, threading.Thread]:
    """A running worker whose next poll is ten minutes away, telling `told` each attempt's outcome."""
    deps = ExportWorkDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        ccd=ccd,
        clock=SystemClock(),
        new_uuid=lambda: str(uuid.uuid4()),
    )
    worker = Worker(deps, concurrency=2, poll_seconds=600.0, on_attempt=told.append)
    running = threading.Thread(target=worker.run)
    running.start()
    time.sleep(0.1)  # it has claimed what was there, and waits
    return worker, running


def queue_and_nudge(worker: Worker, store: InMemoryStore, export_id: int, told: list[str]) -> None:
    """Queue one more export, nudge the worker, and wait (5 s at most) for an attempt to end."""
    store.response_ids.add(export_id)
    store.case_numbers[export_id] = f"24{export_id:05d}/2024"
    export = queue_response_export(export_id, 43, "c0mmand", START, f"queued-{export_id}")
    store.exports[export_id] = attrs.evolve(export, id=export_id)
    worker.nudge()
    for _ in range(100):
        if told:
            return
        time.sleep(0.05)


def test_each_attempt_is_told_with_its_outcome_and_a_nudge_ends_an_idle_wait():
    store, told = queued_store(0), []
    worker, running = idle_worker(store, InMemoryCcdGateway(), told)
    try:
        queue_and_nudge(worker, store, 1, told)
        assert told == ["complete"]
    finally:
        worker.stop()
        running.join(10)
    assert not running.is_alive()


class BlockingCcd(InMemoryCcdGateway):
    """Holds the search for case 2400001/2024 until released: an export CCD is slow on."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def find_latest_case(self, case_type_id, case_number):
        if case_number == "2400001/2024":
            self.release.wait(30)
        return super().find_latest_case(case_type_id, case_number)


def test_a_busy_worker_with_a_free_slot_starts_a_new_export_on_a_nudge():
    store, ccd, told = queued_store(1), BlockingCcd(), []
    worker, running = idle_worker(store, ccd, told)  # export 1 is held in CCD; one slot is free
    try:
        queue_and_nudge(worker, store, 2, told)
        assert told == ["complete"] and store.exports[1].state.value == "in_progress"
    finally:
        ccd.release.set()
        worker.stop()
        running.join(10)
    assert told == ["complete", "complete"]
