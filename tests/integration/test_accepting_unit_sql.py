"""SQLite's accepting unit (adapters/sql/accepting.py): the writes on the thread's driver
connection, the writers' lock held from BEGIN to COMMIT only, and failures in the ports' terms."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa

from adapters.sql import accepting, tables
from adapters.sql.accepting import DriverAcceptingUnit
from adapters.sql.engine import create_engine, writer_queue
from adapters.sql.pooling import Pooling
from adapters.sql.reading import ReadingConnections
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import LoggedCommand, StoreUnavailable, WriteConflict
from domain.results import CommandResult
from tests.builders import add_external_system, add_responses, count_rows


def seeded_engine(url: str, responses=(1, 2, 3, 4), **options) -> sa.Engine:
    engine = create_engine(url, lock_wait_seconds=0.3, **options)
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_responses(connection, responses)
    return engine


@pytest.fixture
def engine(database_url):
    """SQLite and PostgreSQL."""
    engine = seeded_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    """SQLite alone: its writers' lock."""
    engine = seeded_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connections(engine):
    connections = ReadingConnections(engine)
    yield connections
    connections.close()


def logged(command_uuid: str) -> LoggedCommand:
    return LoggedCommand(command_uuid, "ExportResponses", "{}", CommandResult.accept(command_uuid, "ExportResponses"))


def accept(unit: DriverAcceptingUnit, command_uuid: str, ids=(1, 2)) -> None:
    unit.commands.accept(logged(command_uuid), 43, ids, datetime.now(UTC))


def rows(engine, table) -> int:
    with engine.connect() as connection:
        return count_rows(connection, table)


def no_transaction_open(connection) -> bool:
    if isinstance(connection, psycopg.Connection):
        return connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    return not connection.in_transaction


def lock_is_free(engine) -> bool:
    """Whether another thread could take the writers' lock now (PostgreSQL has none)."""
    if writer_queue(engine) is None:
        return True
    free: list[bool] = []

    def take() -> None:
        try:
            writer_queue(engine).acquire()
        except sa.exc.OperationalError:
            free.append(False)
            return
        writer_queue(engine).release()
        free.append(True)

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(timeout=10)
    return free == [True]


def test_an_accepted_command_is_written_on_the_threads_driver_connection(engine, connections):
    seen = []
    sa.event.listen(engine, "checkout", lambda *args: seen.append(args))
    with DriverAcceptingUnit(engine, connections) as uow:
        assert isinstance(uow, DriverAcceptingUnit)  # not the SQLAlchemy unit it falls back to
        accept(uow, str(uuid.uuid4()))
        uow.commit()
    with DriverAcceptingUnit(engine, connections) as uow:
        accept(uow, str(uuid.uuid4()), ids=(3, 4))
        uow.commit()
    assert len(seen) == 1  # the thread's connection, opened once, not a checkout per unit
    assert (rows(engine, tables.commands), rows(engine, tables.exports), rows(engine, tables.export_events)) == (
        2,
        4,
        4,
    )


def test_behind_a_transaction_pooler_the_unit_is_a_sqlalchemy_one(postgres_url):
    """There each transaction sets the session's settings: a statement alone would have none."""
    engine = seeded_engine(postgres_url, pooling=Pooling.TRANSACTION)
    connections = ReadingConnections(engine)
    try:
        with DriverAcceptingUnit(engine, connections) as uow:
            assert isinstance(uow, SqlAlchemyUnitOfWork)
            accept(uow, str(uuid.uuid4()))
            uow.commit()
        assert rows(engine, tables.exports) == 2
    finally:
        connections.close()
        engine.dispose()


def test_on_sqlite_nothing_is_sent_before_commit_and_the_lock_is_let_go_with_it(sqlite_engine):
    engine = sqlite_engine
    connections = ReadingConnections(engine)
    with DriverAcceptingUnit(engine, connections) as uow:
        assert isinstance(uow, DriverAcceptingUnit)  # not the SQLAlchemy unit it falls back to
        accept(uow, str(uuid.uuid4()))
        assert lock_is_free(engine) and rows(engine, tables.commands) == 0  # prepared, not sent
        uow.commit()
        assert lock_is_free(engine)  # let go at COMMIT, not at the unit's end
        assert (rows(engine, tables.commands), rows(engine, tables.exports)) == (1, 2)
    connections.close()


def test_on_sqlite_commands_that_commit_together_are_written_in_one_transaction(sqlite_url, monkeypatch):
    engine = seeded_engine(sqlite_url)
    engine.dispose()
    engine = create_engine(sqlite_url, lock_wait_seconds=10)
    connections = ReadingConnections(engine)
    writers = writer_queue(engine)
    turns: list[int] = []
    real_acquire = writers.acquire
    monkeypatch.setattr(writers, "acquire", lambda: turns.append(1) or real_acquire())
    written: list[BaseException | None] = []

    def send(response_id: int) -> None:
        try:
            with DriverAcceptingUnit(engine, connections) as uow:
                accept(uow, str(uuid.uuid4()), ids=(response_id,))
                uow.commit()
            written.append(None)
        except BaseException as error:
            written.append(error)

    real_acquire()  # the line is held: the first to commit leads and waits, the others gather
    threads = [threading.Thread(target=send, args=(response_id,)) for response_id in (1, 2, 3, 4)]
    try:
        for thread in threads:
            thread.start()
        group = accepting._sqlite_commits(engine, writers)._group
        deadline = time.monotonic() + 10
        while not (len(turns) == 1 and len(group._waiting) == 3):
            assert time.monotonic() < deadline, (turns, len(group._waiting))
            time.sleep(0.01)
    finally:
        writers.release()
        for thread in threads:
            thread.join(timeout=10)
    assert written == [None] * 4
    assert len(turns) == 2  # the first alone, then the three that gathered, together
    assert (rows(engine, tables.commands), rows(engine, tables.exports)) == (4, 4)
    connections.close()
    engine.dispose()


def test_on_sqlite_an_uncommitted_unit_writes_nothing_and_lets_the_lock_go(sqlite_engine):
    # On PostgreSQL the one statement is its own transaction, committed as it is sent,
    # on this unit as on the SQLAlchemy one (driver_sql.on_its_own).
    engine, connections = sqlite_engine, ReadingConnections(sqlite_engine)
    with DriverAcceptingUnit(engine, connections) as uow:
        accept(uow, str(uuid.uuid4()))
    connections.close()
    assert lock_is_free(engine)
    assert (rows(engine, tables.commands), rows(engine, tables.exports)) == (0, 0)


def test_a_twin_uuid_is_a_write_conflict_that_rolls_back_and_keeps_the_connection(engine, connections):
    command_uuid = str(uuid.uuid4())
    with DriverAcceptingUnit(engine, connections) as uow:
        accept(uow, command_uuid, ids=(1,))
        uow.commit()
        first = uow._reader
    with pytest.raises(WriteConflict):
        with DriverAcceptingUnit(engine, connections) as uow:
            accept(uow, command_uuid, ids=(2,))  # refused here on PostgreSQL, at commit on SQLite
            uow.commit()
    assert lock_is_free(engine)
    with DriverAcceptingUnit(engine, connections) as uow:  # the same connection, rolled back: it writes on
        assert uow._reader is first and no_transaction_open(first.dbapi_connection)
        accept(uow, str(uuid.uuid4()), ids=(2,))
        uow.commit()
    assert (rows(engine, tables.commands), rows(engine, tables.exports)) == (2, 2)


def test_a_unit_that_failed_otherwise_closes_its_connection_and_the_next_opens_another(engine, connections):
    with pytest.raises(RuntimeError, match="a fault of the caller"):
        with DriverAcceptingUnit(engine, connections) as uow:
            accept(uow, str(uuid.uuid4()))
            first = uow._reader
            raise RuntimeError("a fault of the caller")
    # Rolled back on SQLite; on PostgreSQL the one statement was its own transaction.
    kept = {"sqlite": 0, "postgresql": 1}[engine.dialect.name]
    assert lock_is_free(engine) and rows(engine, tables.commands) == kept
    with DriverAcceptingUnit(engine, connections) as uow:
        assert uow._reader is not first
        accept(uow, str(uuid.uuid4()), ids=(3, 4))
        uow.commit()
    assert rows(engine, tables.commands) == kept + 1


def test_a_writer_lock_not_had_in_time_is_an_outage_that_writes_nothing(sqlite_engine):
    engine, connections = sqlite_engine, ReadingConnections(sqlite_engine)
    holder = SqlAlchemyUnitOfWork(engine).__enter__()  # another thread's writer holds the line
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with DriverAcceptingUnit(engine, connections) as uow:
                accept(uow, str(uuid.uuid4()))
                uow.commit()
        except StoreUnavailable as error:
            failures.append(error)

    try:
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=10)
    finally:
        holder.__exit__(None, None, None)
    assert len(failures) == 1 and "locked" in str(failures[0])
    assert rows(engine, tables.commands) == 0 and lock_is_free(engine)


def test_while_statements_are_watched_the_unit_is_a_sqlalchemy_one(engine, connections):
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: seen.append(statement))
    with DriverAcceptingUnit(engine, connections) as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        accept(uow, str(uuid.uuid4()))
        uow.commit()
    # All seen: on SQLite BEGIN IMMEDIATE and the three inserts, on PostgreSQL the one statement.
    assert len(seen) == {"sqlite": 4, "postgresql": 1}[engine.dialect.name]
