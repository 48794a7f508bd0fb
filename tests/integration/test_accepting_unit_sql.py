"""SQLite's accepting unit (adapters/sql/accepting.py): the writes on the thread's driver
connection, the writers' lock held from BEGIN to COMMIT only, and failures in the ports' terms."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.accepting import DriverAcceptingUnit
from adapters.sql.engine import create_engine, writer_queue
from adapters.sql.reading import ReadingConnections
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import LoggedCommand, StoreUnavailable, WriteConflict
from domain.results import CommandResult
from tests.builders import add_external_system, add_responses, count_rows


@pytest.fixture
def engine(sqlite_url):
    engine = create_engine(sqlite_url, lock_wait_seconds=0.3)
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_responses(connection, [1, 2])
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


def lock_is_free(engine) -> bool:
    """Whether another thread could take the writers' lock now."""
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


def test_an_accepted_command_is_written_on_the_driver_and_the_lock_let_go_at_commit(engine, connections):
    with DriverAcceptingUnit(engine, connections) as uow:
        assert isinstance(uow, DriverAcceptingUnit)  # not the SQLAlchemy unit it falls back to
        accept(uow, str(uuid.uuid4()))
        assert not lock_is_free(engine)  # held from BEGIN IMMEDIATE...
        uow.commit()
        assert lock_is_free(engine)  # ...to COMMIT, not to the unit's end
    assert (rows(engine, tables.commands), rows(engine, tables.exports), rows(engine, tables.export_events)) == (
        1,
        2,
        2,
    )


def test_an_uncommitted_unit_writes_nothing_and_lets_the_lock_go(engine, connections):
    with DriverAcceptingUnit(engine, connections) as uow:
        accept(uow, str(uuid.uuid4()))
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
            accept(uow, command_uuid, ids=(2,))
    assert lock_is_free(engine)
    with DriverAcceptingUnit(engine, connections) as uow:  # the same connection, rolled back: it writes on
        assert uow._reader is first and not first.dbapi_connection.in_transaction
        accept(uow, str(uuid.uuid4()), ids=(2,))
        uow.commit()
    assert (rows(engine, tables.commands), rows(engine, tables.exports)) == (2, 2)


def test_a_unit_that_failed_otherwise_closes_its_connection_and_the_next_opens_another(engine, connections):
    with pytest.raises(RuntimeError, match="a fault of the caller"):
        with DriverAcceptingUnit(engine, connections) as uow:
            accept(uow, str(uuid.uuid4()))
            first = uow._reader
            raise RuntimeError("a fault of the caller")
    assert lock_is_free(engine) and rows(engine, tables.commands) == 0
    with DriverAcceptingUnit(engine, connections) as uow:
        assert uow._reader is not first
        accept(uow, str(uuid.uuid4()))
        uow.commit()
    assert rows(engine, tables.commands) == 1


def test_a_writer_lock_not_had_in_time_is_an_outage_that_writes_nothing(engine, connections):
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
    assert len(seen) == 4  # BEGIN IMMEDIATE and the three inserts, all seen
