"""What each outcome of an ExportResponses command sends to the database: statements,
transactions and, on PostgreSQL, round trips counted on the wire (libpq's trace).

A regression (a BEGIN or COMMIT back, a statement more) fails here, not only in the
benchmark's figures.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from adapters.clock import SystemClock
from adapters.sql import tables
from adapters.sql.reading import DriverReadingUnit
from adapters.sql.repositories import SqlAlchemyCommandLog
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from application.ports import LoggedCommand
from domain.commands import ExportResponses
from domain.results import CommandResult
from tests.builders import add_external_system, add_responses, count_rows
from tests.databases import new_pgbouncer_database
from tests.pgbouncer import engine_for


@pytest.fixture
def seeded_engine(engine):
    _seed(engine)
    return engine


def _seed(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_responses(connection, range(1, 21))


def _deps(engine: sa.Engine) -> ExportResponsesDeps:
    return ExportResponsesDeps(  # as entrypoints.bootstrap builds them
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        clock=SystemClock(),
        new_uuid=lambda: str(uuid.uuid4()),
        reading=lambda: DriverReadingUnit(engine),
    )


@contextlib.contextmanager
def sent(engine: sa.Engine) -> Iterator[list[str]]:
    """The first word of every statement the engine's connections send while the block
    runs, and each commit SQLAlchemy asks of the driver, in order."""
    seen: list[str] = []
    listeners = {
        "before_cursor_execute": lambda _c, _cur, statement, *_rest: seen.append(statement.split(None, 1)[0].upper()),
        "commit": lambda _c: seen.append("commit"),
    }
    for name, listener in listeners.items():
        sa.event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners.items():
            sa.event.remove(engine, name, listener)


@contextlib.contextmanager
def round_trips(engine: sa.Engine) -> Iterator[list[str]]:
    """What the client sent PostgreSQL while the block ran, one entry a round trip: each
    ends with the Sync of an extended query or is a simple Query (as psycopg sends BEGIN
    and COMMIT). Read from libpq's trace of each connection checked out meanwhile."""
    folder = Path(tempfile.mkdtemp(prefix="round-trips-"))
    files: list = []
    traced: list = []

    def on_checkout(dbapi_connection, _record, _proxy):
        trace = (folder / f"{len(files)}.trace").open("w")
        files.append(trace)
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        traced.append(dbapi_connection)

    def on_checkin(dbapi_connection, _record):
        if dbapi_connection in traced:
            dbapi_connection.pgconn.untrace()
            traced.remove(dbapi_connection)

    trips: list[str] = []
    sa.event.listen(engine, "checkout", on_checkout)
    sa.event.listen(engine, "checkin", on_checkin)
    try:
        yield trips
    finally:
        sa.event.remove(engine, "checkout", on_checkout)
        sa.event.remove(engine, "checkin", on_checkin)
        for connection in traced:
            connection.pgconn.untrace()
        for trace in files:
            trace.close()
        for trace in files:
            trips.extend(_trips(Path(trace.name).read_text()))


def _trips(trace: str) -> list[str]:
    trips, parsed = [], ""
    for line in trace.splitlines():
        # "F", the length, the message, then its fields: `F 68 Parse "" "SELECT ..." 3 ...`.
        fields = line.split("\t", 3)
        if len(fields) < 3 or fields[0] != "F":
            continue
        message, rest = fields[2], fields[3] if len(fields) > 3 else ""
        if message == "Parse":  # the statement's name, then its text
            parsed = _first_word(rest, r'\s*"[^"]*"\s*"')
        elif message == "Sync":
            trips.append(parsed or "EXECUTE")  # a prepared statement's Bind needs no Parse
            parsed = ""
        elif message == "Query":
            trips.append(_first_word(rest, r'\s*"'))
    return trips


def _first_word(fields: str, before: str) -> str:
    found = re.match(before + r"([A-Za-z]+)", fields)
    if found is None:
        raise AssertionError(f"not a statement in the trace: {fields[:80]!r}")
    return found.group(1).upper()


def accepted(deps, response_id: int) -> CommandResult:
    return export_responses(ExportResponses(str(uuid.uuid4()), 43, (response_id,)), deps)


def test_an_accepted_command_is_one_read_then_its_writes_in_one_transaction(seeded_engine):
    deps = _deps(seeded_engine)
    accepted(deps, 1)  # the pool's first connection answers SQLAlchemy's first queries
    with sent(seeded_engine) as statements:
        assert accepted(deps, 2).accepted
    if seeded_engine.dialect.name == "postgresql":
        # The read alone, then the one statement that logs, queues and notifies.
        assert statements == ["SELECT", "WITH", "commit"]
    else:
        # BEGIN IMMEDIATE by the begin hook; the log row, the exports, their events.
        assert statements == ["SELECT", "BEGIN", "INSERT", "INSERT", "INSERT", "commit"]


@pytest.mark.parametrize("outcome", ["rejected", "replayed", "conflict"])
def test_a_rejected_or_repeated_command_is_one_statement(seeded_engine, outcome):
    deps = _deps(seeded_engine)
    logged = str(uuid.uuid4())
    assert export_responses(ExportResponses(logged, 43, (1,)), deps).accepted
    command = {
        "rejected": ExportResponses(str(uuid.uuid4()), 43, (1, 999)),
        "replayed": ExportResponses(logged, 43, (1,)),
        "conflict": ExportResponses(logged, 43, (2,)),
    }[outcome]
    with sent(seeded_engine) as statements:
        result = export_responses(command, deps)
    assert result.accepted == (outcome == "replayed")
    assert statements == ["SELECT"]


@pytest.fixture
def on_postgres(postgres_url) -> Iterator[tuple[sa.Engine, ExportResponsesDeps]]:
    """A seeded PostgreSQL database (direct, as `serve` connects) and the use case's deps on it."""
    engine = engine_for(postgres_url)
    try:
        _seed(engine)
        yield engine, _deps(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_on_postgres_an_accepted_command_is_two_round_trips_and_a_repeat_one(on_postgres):
    engine, deps = on_postgres
    accepted(deps, 1)
    with round_trips(engine) as accepting:
        assert accepted(deps, 2).accepted
    with round_trips(engine) as rejecting:
        assert not accepted(deps, 999).accepted
    command = ExportResponses(str(uuid.uuid4()), 43, (3,))
    assert export_responses(command, deps).accepted
    with round_trips(engine) as replaying:
        assert export_responses(command, deps).accepted
    with engine.connect() as connection:
        logged = count_rows(connection, tables.commands)
        queued = count_rows(connection, tables.export_events)
    assert accepting == ["SELECT", "WITH"]  # no BEGIN, no COMMIT: the statement commits itself
    assert rejecting == ["SELECT"] and replaying == ["SELECT"]
    assert (logged, queued) == (3, 3)


@pytest.mark.postgres
def test_behind_pgbouncer_the_accepting_statement_runs_in_a_transaction_that_sets_its_settings(pgbouncer):
    """Transaction pooling: each writing transaction sets synchronous_commit and the bounded
    waits for itself (engine.py), so the statement runs inside it, durable as ever."""
    engine = engine_for(new_pgbouncer_database(pgbouncer))
    try:
        _seed(engine)
        deps = _deps(engine)
        accepted(deps, 1)
        with sent(engine) as statements:
            assert accepted(deps, 2).accepted
        with engine.connect() as connection:
            queued = count_rows(connection, tables.export_events)
    finally:
        engine.dispose()
    assert statements == ["SELECT", "SELECT", "WITH", "commit"]  # the second SELECT: set_config
    assert queued == 2


@pytest.mark.postgres
def test_a_twin_waits_on_the_log_entry_of_an_uncommitted_command_then_replays_it(on_postgres):
    """The log's unique key decides a race of one uuid: the twin blocks on it until the
    first commits, fails on it, and answers from the log; nothing is queued twice."""
    engine, deps = on_postgres
    command = ExportResponses(str(uuid.uuid4()), 43, (4, 5))
    first = CommandResult.accept(command.uuid, command.name)
    replies: list[CommandResult] = []
    with engine.connect() as holder:
        holder.exec_driver_sql("SELECT 1")  # in a transaction: the accept waits for our commit
        logged = LoggedCommand(command.uuid, command.name, command.fingerprint(), first)
        SqlAlchemyCommandLog(holder).accept(logged, 43, [4, 5], SystemClock().now())
        twin = threading.Thread(target=lambda: replies.append(export_responses(command, deps)))
        twin.start()
        time.sleep(0.5)
        assert twin.is_alive() and not replies  # blocked on the log's unique key
        holder.commit()
    twin.join(30)
    with engine.connect() as connection:
        counts = [count_rows(connection, table) for table in (tables.commands, tables.exports, tables.export_events)]
    assert replies == [first]
    assert counts == [1, 2, 2]


@pytest.mark.postgres
def test_a_twin_with_other_data_under_the_uuid_is_refused_once_the_first_commits(on_postgres):
    engine, deps = on_postgres
    uuid_ = str(uuid.uuid4())
    commands = [ExportResponses(uuid_, 43, (6,)), ExportResponses(uuid_, 43, (7,))]
    barrier = threading.Barrier(2)
    replies: dict[int, CommandResult] = {}

    def send(index: int) -> None:
        barrier.wait(10)
        replies[index] = export_responses(commands[index], deps)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with engine.connect() as connection:
        queued = connection.execute(sa.select(tables.exports.c.resource_id)).scalars().all()
    winner = next(index for index, reply in replies.items() if reply.accepted)
    loser = 1 - winner
    assert replies[loser].codes == ["uuid_conflict"]
    assert queued == [commands[winner].response_ids[0]]
