"""The export worker when its database goes away, on SQLite and PostgreSQL.

The in-process Worker runs on the real SQL unit of work behind a switch (`Outage`)
that the test turns off and on: while it is off every unit of work raises
StoreUnavailable, as the SQL one does when the database does not answer.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from adapters.memory.ccd import InMemoryCcdGateway
from adapters.sql import tables
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.carry_out_exports import ExportWorkDeps
from application.ports import StoreUnavailable, UnitOfWork
from domain.commands import ExportResponses
from entrypoints.worker import Worker
from tests.databases import services_on
from tests.integration.conftest import CASE_TYPE

CLAIM_SECONDS = 0.5
POLL_SECONDS = 0.05
WAIT_SECONDS = 10


class Outage:
    """The database, as the worker sees it: up, or down until the test (or `up_after`) says."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0
        self.up_after: int | None = None  # refusals after which the database comes back
        self._lock = threading.Lock()

    def check(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.refused += 1
            if self.up_after is not None and self.refused >= self.up_after:
                self.down = False
        raise StoreUnavailable("the database does not answer (test outage)")


class OutageUnitOfWork(UnitOfWork):
    """The real unit of work, refused on entry and on commit while the outage lasts."""

    def __init__(self, inner: UnitOfWork, outage: Outage):
        self.inner = inner
        self.outage = outage

    def __enter__(self) -> OutageUnitOfWork:
        self.outage.check()
        self.inner.__enter__()
        for name in ("facts", "exports", "commands", "queue", "circuits", "throttles", "offices"):
            setattr(self, name, getattr(self.inner, name))
        return self

    def __exit__(self, *exc_info) -> None:
        self.inner.__exit__(*exc_info)

    def commit(self) -> None:
        self.outage.check()
        self.inner.commit()

    def rollback(self) -> None:
        self.inner.rollback()


class CcdDuringWhichTheDatabaseFails(InMemoryCcdGateway):
    """Answers as CCD; on its first call the database goes down, as it might mid-attempt."""

    def __init__(self, outage: Outage):
        super().__init__()
        self.outage = outage

    def find_latest_case(self, case_type_id, case_number):
        if not self.calls:
            self.outage.down = True
        return super().find_latest_case(case_type_id, case_number)


@pytest.fixture
def outage():
    return Outage()


def work_deps(engine, outage: Outage, ccd: InMemoryCcdGateway) -> ExportWorkDeps:
    for rid in range(1, 6):
        ccd.add_case(CASE_TYPE, f"24{rid:05d}/2024", 1_600_000_000_000_000 + rid, "Manchester")
    services = services_on(
        engine,
        {"claim_seconds": CLAIM_SECONDS},
        ccd=ccd,
        unit_of_work=lambda: OutageUnitOfWork(SqlAlchemyUnitOfWork(engine), outage),
        pause=lambda seconds: None,
    )
    assert services.export_work is not None
    return services.export_work


def queue(engine, ids) -> None:
    handle = services_on(engine).handle_export_responses
    assert handle(ExportResponses(str(uuid.uuid4()), 43, tuple(ids))).accepted


def states(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.select(tables.exports.c.state).order_by(tables.exports.c.resource_id)))


def event_states(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.select(tables.export_events.c.state).order_by(tables.export_events.c.id)))


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_SECONDS} s: {what}"
        time.sleep(0.02)


class RunningWorker:
    """A Worker on a thread of its own, stopped (and checked stopped) at the end of the test."""

    def __init__(self, worker: Worker, drain: bool = False):
        self.worker = worker
        self.outcomes: Counter[str] | None = None
        self.thread = threading.Thread(target=self._run, args=(drain,), daemon=True)
        self.thread.start()

    def _run(self, drain: bool) -> None:
        self.outcomes = self.worker.run(drain=drain)

    def stop(self) -> Counter[str]:
        self.worker.stop()
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive(), "the worker did not stop"
        return self.outcomes


def test_the_worker_waits_out_an_outage_then_carries_on(engine, seeded, outage, caplog):
    deps = work_deps(engine, outage, InMemoryCcdGateway())
    queue(engine, [1, 2, 3])
    outage.down = True
    with caplog.at_level(logging.WARNING, logger="export_responses.worker"):
        running = RunningWorker(Worker(deps, concurrency=2, poll_seconds=POLL_SECONDS))
        try:
            eventually(lambda: outage.refused >= 5, "the worker tried to claim five times")
            assert running.thread.is_alive(), "the worker stopped when the database went away"
            before = outage.refused
            time.sleep(10 * POLL_SECONDS)
            assert outage.refused - before <= 12, "the worker does not wait between tries"
            assert states(engine) == ["queued"] * 3
            outage.down = False
            eventually(lambda: states(engine) == ["complete"] * 3, "every export completed")
        finally:
            outcomes = running.stop()
    assert outcomes == {"complete": 3}
    assert "database_unavailable" in caplog.text


def test_a_draining_worker_does_not_take_an_outage_for_an_empty_queue(engine, seeded, outage):
    deps = work_deps(engine, outage, InMemoryCcdGateway())
    queue(engine, [1, 2])
    outage.down, outage.up_after = True, 3
    running = RunningWorker(Worker(deps, concurrency=2, poll_seconds=POLL_SECONDS), drain=True)
    running.thread.join(WAIT_SECONDS)
    outcomes = running.stop()
    assert outage.refused == 3
    assert (outcomes, states(engine)) == ({"complete": 2}, ["complete"] * 2)


def test_an_export_whose_result_cannot_be_recorded_is_taken_again_once_its_claim_expires(engine, seeded, outage):
    deps = work_deps(engine, outage, CcdDuringWhichTheDatabaseFails(outage))
    queue(engine, [1])
    running = RunningWorker(Worker(deps, concurrency=1, poll_seconds=POLL_SECONDS))
    try:
        eventually(lambda: running.worker.outcomes["crashed"] == 1, "the attempt gave up recording its result")
        assert states(engine) == ["in_progress"]  # held by the lost attempt's claim, not lost
        outage.down = False
        eventually(lambda: states(engine) == ["complete"], "the export completed on a second attempt")
    finally:
        outcomes = running.stop()
    assert outcomes == {"crashed": 1, "complete": 1}
    assert event_states(engine) == ["queued", "in_progress", "in_progress", "complete"]
    with engine.connect() as connection:
        attempts, claim_token = connection.execute(
            sa.select(tables.exports.c.attempts, tables.exports.c.claim_token)
        ).one()
    assert (attempts, claim_token) == (2, None)
