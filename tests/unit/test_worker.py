"""The worker loop on the in-memory store: claims in batches, every export carried out once."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from datetime import timedelta

import attrs

from adapters.clock import SystemClock
from adapters.memory import InMemoryStore, InMemoryUnitOfWork
from adapters.memory.ccd import InMemoryCcdGateway
from application.carry_out_exports import ExportWorkDeps
from application.ports import StoreUnavailable
from domain.circuits import CircuitPolicy
from domain.exports import queue_response_export
from entrypoints import worker as worker_module
from entrypoints.worker import Worker
from tests.unit.worker_fakes import MANCHESTER, START, queue


class SlowCcd(InMemoryCcdGateway):
    """Answers after a few milliseconds, as a remote CCD would, so that exports overlap."""

    def find_latest_case(self, case_type_id, case_number):
        time.sleep(0.005)
        return super().find_latest_case(case_type_id, case_number)


def queued_store(count: int) -> InMemoryStore:
    store = InMemoryStore()
    store.external_systems[43] = MANCHESTER
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


def attempt_lines(caplog) -> list[dict]:
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "export_responses.worker"]
    return [line for line in lines if line["event"] == "attempt"]


def test_every_erroring_or_failed_attempt_is_logged_with_its_reason_and_next_attempt(store, ccd, deps, caplog):
    caplog.set_level(logging.INFO, logger="export_responses.worker")
    erroring, completed = queue(store), queue(store, response_id=19)
    store.external_systems[60] = attrs.evolve(store.external_systems[60], configurations=())
    unconfigured = queue(store, response_id=20, system_id=60)
    ccd.fail_next("CCD data store answered 502 to the case search")

    assert Worker(deps, concurrency=1, poll_seconds=0.01).run(drain=True) == {"erroring": 1, "complete": 1, "failed": 1}

    lines = {line["export_id"]: line for line in attempt_lines(caplog)}
    assert lines[erroring] == {
        "event": "attempt",
        "export_id": erroring,
        "external_system_id": 43,
        "attempt": 1,
        "outcome": "erroring",
        "seconds": lines[erroring]["seconds"],
        "reason": "CCD data store answered 502 to the case search",
        "next_attempt_at": "2026-01-01T00:00:10.000000Z",
    }
    assert "reason" not in lines[completed] and lines[completed]["outcome"] == "complete"
    assert lines[unconfigured]["outcome"] == "failed" and "next_attempt_at" not in lines[unconfigured]
    assert lines[unconfigured]["reason"].startswith("External system 60 (reform) has no case_type_id configured")
    assert "hunter2" not in caplog.text  # the system's secret configuration


def test_the_circuit_opening_and_closing_is_logged(store, ccd, deps, clock, caplog):
    caplog.set_level(logging.INFO, logger="export_responses.worker")
    deps = attrs.evolve(deps, circuit=CircuitPolicy(failures_to_open=1, first_probe_seconds=5))
    queue(store)
    ccd.down = True
    Worker(deps, concurrency=1, poll_seconds=0.01).run(drain=True)
    ccd.down = False
    clock.at += timedelta(seconds=5)
    Worker(deps, concurrency=1, poll_seconds=0.01).run(drain=True)

    events = [json.loads(record.getMessage()) for record in caplog.records]
    circuit_events = [line for line in events if line["event"].startswith("circuit_")]
    assert [(line["event"], line["external_system_id"]) for line in circuit_events] == [
        ("circuit_opened", 43),
        ("circuit_probe", 43),
        ("circuit_closed", 43),
    ]
    assert circuit_events[0]["next_probe_at"] == "2026-01-01T00:00:05.000000Z"
    assert circuit_events[0]["last_failure"] == "could not connect to CCD auth (service token lease)"
    assert [line["outcome"] for line in attempt_lines(caplog)] == ["erroring", "complete"]
    assert attempt_lines(caplog)[0]["charged"] is False


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


class CountingCcd(InMemoryCcdGateway):
    """Answers after 20 ms and counts the calls under way at once."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.inside = self.most_inside = 0

    def find_latest_case(self, case_type_id, case_number):
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.02)
        with self.lock:
            self.inside -= 1
        return super().find_latest_case(case_type_id, case_number)


def test_the_worker_asks_ccd_at_most_concurrency_at_a_time_while_twice_as_many_threads_work():
    store = queued_store(24)
    counter = itertools.count(1)
    ccd = CountingCcd()
    deps = ExportWorkDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        ccd=ccd,
        clock=SystemClock(),
        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
    )
    worker = Worker(deps, concurrency=3, poll_seconds=0.01)
    assert worker.threads == 6
    assert worker.run(drain=True) == {"complete": 24}
    assert ccd.most_inside == 3
    assert [export.state.value for export in store.exports.values()] == ["complete"] * 24


def refused_once(count: int) -> tuple[InMemoryStore, ExportWorkDeps]:
    """`count` queued exports, and a CCD whose first answer is a 429."""
    store = queued_store(count)
    ccd = SlowCcd()
    ccd.refuse_next(1)
    counter = itertools.count(1)
    deps = ExportWorkDeps(
        unit_of_work=lambda: InMemoryUnitOfWork(store),
        ccd=ccd,
        clock=SystemClock(),
        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
    )
    return store, deps


def test_a_draining_worker_waits_out_a_429s_pause_not_its_poll_and_charges_nothing_for_it(caplog):
    store, deps = refused_once(6)
    caplog.set_level(logging.INFO, logger="export_responses.worker")
    started = time.monotonic()
    outcomes = Worker(deps, concurrency=1, poll_seconds=30).run(drain=True)
    elapsed = time.monotonic() - started

    assert outcomes == {"erroring": 1, "complete": 6}  # the 429, then every export
    assert 1.0 <= elapsed < 10, elapsed  # the 1 s pause was waited for; the 30 s poll was not
    assert [store.work[export_id].attempts for export_id in sorted(store.exports)] == [1] * 6
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "export_responses.worker"]
    (throttled,) = [line for line in lines if line["event"] == "system_throttled"]
    assert throttled["external_system_id"] == 43 and throttled["calls_per_second"] >= 0.5
    (refused,) = [line for line in lines if line["event"] == "attempt" and line["outcome"] == "erroring"]
    assert refused["charged"] is False and "429" in refused["reason"]


def test_a_draining_worker_that_cannot_read_the_throttles_backs_off_and_goes_on(monkeypatch):
    store, deps = refused_once(3)
    reads = []

    def held_until_failing_once(deps):
        reads.append(None)
        if len(reads) == 1:
            raise StoreUnavailable("the database does not answer")
        return real(deps)

    real = worker_module.held_until
    monkeypatch.setattr(worker_module, "held_until", held_until_failing_once)
    outcomes = Worker(deps, concurrency=1, poll_seconds=0.05).run(drain=True)
    assert outcomes == {"erroring": 1, "complete": 3}  # the 429, then every export: the drain went on
    assert len(reads) >= 2


def test_a_draining_worker_whose_throttle_read_is_broken_still_ends(monkeypatch):
    """A fault of ours, not the database's: the drain is not held up by it for ever."""
    store, deps = refused_once(1)

    def broken(_deps):
        raise TypeError("a bug in the throttle read")

    monkeypatch.setattr(worker_module, "held_until", broken)
    done = []
    runner = threading.Thread(
        target=lambda: done.append(Worker(deps, concurrency=1, poll_seconds=0.05).run(drain=True))
    )
    runner.start()
    runner.join(10)
    assert done, "the drain did not end"
