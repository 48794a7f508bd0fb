"""The queue's figures read at scrape time, and the wake-ups of instant pickup, on each database."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.clock import FixedClock, SystemClock
from adapters.memory.ccd import InMemoryCcdGateway
from adapters.metrics.queue_figures import QueueFiguresCollector
from adapters.sql import tables
from adapters.sql.engine import create_engine
from adapters.sql.queue_signals import PostgresListener, SqliteWatcher, queue_listener
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.carry_out_exports import ExportWorkDeps
from application.export_responses import ExportResponsesDeps, export_responses
from domain.commands import ExportResponses
from entrypoints.worker import Worker
from tests.builders import NOW, add_external_system, counting_statements
from tests.databases import new_pgbouncer_database
from tests.integration.conftest import seed_system_43
from tests.pgbouncer import engine_for, past_the_pooler

HEARD_WITHIN_SECONDS = 10.0


@pytest.fixture
def seed(engine, seeded) -> None:
    """The conftest's system 43 and responses 1 to 5, and system 44, which has no case type."""
    with engine.begin() as connection:
        add_external_system(connection, 44, reference="paused_one")


def queue(engine, ids, system_id=43, clock=None) -> None:
    deps = ExportResponsesDeps(lambda: SqlAlchemyUnitOfWork(engine), clock or SystemClock(), lambda: str(uuid.uuid4()))
    assert export_responses(ExportResponses(str(uuid.uuid4()), system_id, tuple(ids)), deps).accepted


def figures(collector) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


def test_the_queue_figures_are_read_in_two_statements_at_scrape_time(engine, seed):
    queue(engine, [1, 2, 3], clock=FixedClock(NOW))
    with engine.begin() as connection:
        # The Rails side's export (no command): counted, never due for this service's worker.
        connection.execute(
            sa.insert(tables.exports),
            {
                "resource_type": "Response",
                "resource_id": 4,
                "external_system_id": 44,
                "state": "queued",
                "external_data": {},
                "percent_complete": 0,
                "created_at": NOW - timedelta(days=3),
                "updated_at": NOW,
            },
        )
        connection.execute(
            sa.insert(tables.system_controls),
            {"external_system_id": 44, "paused_at": NOW, "circuit_state": "open", "updated_at": NOW},
        )
    collector = QueueFiguresCollector(engine, FixedClock(NOW + timedelta(seconds=90)).now)
    with counting_statements(engine) as statements:
        read = figures(collector)
    assert len([s for s in statements if s != "BEGIN"]) == 2  # SQLite begins its read: one snapshot
    by_state = {labels: v for (name, labels), v in read.items() if name == "export_responses_exports"}
    assert by_state == {
        frozenset({("external_system_id", "43"), ("state", "queued")}): 3,
        frozenset({("external_system_id", "44"), ("state", "queued")}): 1,
    }
    assert read[("export_responses_queue_lag_seconds", frozenset())] == 90
    assert read[("export_responses_system_queue_lag_seconds", frozenset({("external_system_id", "43")}))] == 90
    assert ("export_responses_system_queue_lag_seconds", frozenset({("external_system_id", "44")})) not in read
    circuit = {
        (dict(labels)["external_system_id"], dict(labels)["state"]): v
        for (name, labels), v in read.items()
        if name == "export_responses_circuit_state"
    }
    assert circuit == {
        ("43", "closed"): 1,
        ("43", "open"): 0,
        ("43", "half_open"): 0,
        ("44", "closed"): 0,
        ("44", "open"): 1,
        ("44", "half_open"): 0,
    }
    paused = {labels: v for (name, labels), v in read.items() if name == "export_responses_system_paused"}
    assert paused == {frozenset({("external_system_id", "43")}): 0, frozenset({("external_system_id", "44")}): 1}
    assert read[("export_responses_queue_figures_up", frozenset())] == 1


def test_a_database_that_cannot_answer_makes_the_figures_down_not_the_scrape(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'no-schema.sqlite3'}")
    read = figures(QueueFiguresCollector(engine, SystemClock().now))
    assert read == {("export_responses_queue_figures_up", frozenset()): 0}
    engine.dispose()


class Heard:
    def __init__(self):
        self.event = threading.Event()
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    def wait(self) -> bool:
        heard = self.event.wait(HEARD_WITHIN_SECONDS)
        self.event.clear()
        return heard


def listening(database_url: str, session_url: str | None):
    heard = Heard()
    listener = queue_listener(database_url, session_url, heard)
    assert listener is not None
    listener.start()
    assert heard.wait(), "the listener never got ready"  # it says so once, when listening
    return listener, heard


def test_an_accepted_command_is_heard_of_by_the_listener(engine, database_url, seed):
    listener, heard = listening(database_url, database_url)
    try:
        assert isinstance(listener, SqliteWatcher if database_url.startswith("sqlite") else PostgresListener)
        queue(engine, [1, 2])
        assert heard.wait()
    finally:
        listener.stop()


@pytest.mark.postgres
def test_the_listener_comes_back_when_its_connection_is_killed(postgres_url):
    engine = create_engine(postgres_url)
    seed_system_43(engine)
    listener, heard = listening(postgres_url, postgres_url)
    try:
        with engine.begin() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed == 1
        assert heard.wait(), "it did not listen again"  # ready again: it looks once
        queue(engine, [3])
        assert heard.wait()
    finally:
        listener.stop()
        engine.dispose()


@pytest.mark.postgres
def test_behind_a_transaction_pooler_it_listens_past_it_or_not_at_all(pgbouncer, caplog):
    bouncer_url = new_pgbouncer_database(pgbouncer)
    engine = engine_for(bouncer_url)
    seed_system_43(engine)
    assert queue_listener(bouncer_url, None, Heard()) is None
    assert "queue_listener_off" in caplog.text
    listener, heard = listening(bouncer_url, past_the_pooler(bouncer_url))
    try:
        queue(engine, [4])  # accepted through PgBouncer: NOTIFY works there, LISTEN would not
        assert heard.wait()
    finally:
        listener.stop()
        engine.dispose()


def test_an_idle_worker_starts_an_accepted_export_long_before_its_next_poll(engine, database_url, seed):
    deps = ExportWorkDeps(
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        ccd=InMemoryCcdGateway(),
        clock=SystemClock(),
        new_uuid=lambda: str(uuid.uuid4()),
    )
    worker = Worker(deps, concurrency=2, poll_seconds=600.0)
    listener = queue_listener(database_url, database_url, worker.nudge)
    listener.start()
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        queue(engine, [5])
        deadline = threading.Event()
        for _ in range(int(HEARD_WITHIN_SECONDS / 0.05)):
            with engine.connect() as connection:
                state = connection.execute(sa.select(tables.exports.c.state)).scalar_one()
            if state == "complete":
                break
            deadline.wait(0.05)
        assert state == "complete"
    finally:
        worker.stop()
        running.join(10)
        listener.stop()
