"""The reading units' own connections, one a thread (adapters/sql/reading.py), SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import threading
import uuid

import pytest
import sqlalchemy as sa

from adapters.sql import migrate, reading
from adapters.sql.engine import create_engine
from adapters.sql.reading import DriverReadingUnit, ReadingConnections
from tests.builders import add_external_system, add_responses


@pytest.fixture
def connections(engine):
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_responses(connection, [1, 2])
    connections = ReadingConnections(engine)
    yield connections
    connections.close()


def existing(engine, connections) -> tuple[frozenset[int], object]:
    """The ids of [1, 2, 99] that exist, read in a unit, and the connection it read on."""
    with DriverReadingUnit(engine, connections) as uow:
        facts = uow.facts.for_export_responses(str(uuid.uuid4()), 43, [1, 2, 99])
        return facts.existing_response_ids, uow.facts.pooled


def checkouts(engine) -> list[object]:
    seen: list[object] = []
    sa.event.listen(engine, "checkout", lambda *args: seen.append(args))
    return seen


def is_closed(connection) -> bool:
    try:
        connection.dbapi_connection.cursor().execute("SELECT 1")
    except Exception:
        return True
    return False


def test_a_thread_reads_on_one_connection_of_its_own_and_leaves_the_pool_alone(engine, connections):
    seen = checkouts(engine)
    found, first = existing(engine, connections)
    assert found == {1, 2} and len(seen) == 1  # opened through the pool, its hooks run
    for _ in range(5):
        assert existing(engine, connections) == ({1, 2}, first)
    assert len(seen) == 1 and engine.pool.checkedout() == 0
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(existing(engine, connections)))
    thread.start()
    thread.join()
    assert others[0][0] == {1, 2} and others[0][1] is not first


def test_a_threads_connection_is_closed_when_the_thread_ends(engine, connections):
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(existing(engine, connections)[1]))
    thread.start()
    thread.join(timeout=10)
    del thread
    gc.collect()
    assert is_closed(found[0]) and not connections._idle


def test_a_unit_that_raised_closes_its_connection_and_the_next_opens_another(engine, connections):
    _, first = existing(engine, connections)
    with pytest.raises(RuntimeError, match="the unit's own fault"):
        with DriverReadingUnit(engine, connections):
            raise RuntimeError("the unit's own fault")
    assert is_closed(first)
    found, second = existing(engine, connections)
    assert found == {1, 2} and second is not first


def test_closing_closes_the_idle_connections_and_units_then_use_the_pool(engine, connections):
    _, first = existing(engine, connections)
    connections.close()
    assert is_closed(first)
    seen = checkouts(engine)
    found, pooled = existing(engine, connections)
    assert found == {1, 2} and pooled is not first and len(seen) == 1
    assert engine.pool.checkedout() == 0  # given back to the pool


def test_a_connection_in_use_when_closing_is_closed_as_its_unit_ends(engine, connections):
    with DriverReadingUnit(engine, connections) as uow:
        connections.close()
        facts = uow.facts.for_export_responses(str(uuid.uuid4()), 43, [1])
        in_use = uow.facts.pooled
    assert facts.existing_response_ids == {1}
    assert is_closed(in_use)


def test_a_connection_opened_before_a_fork_is_left_to_the_parent(engine, connections, monkeypatch):
    _, parents = existing(engine, connections)
    real_pid = reading.os.getpid()
    monkeypatch.setattr(reading.os, "getpid", lambda: real_pid + 1)  # as in a forked child
    found, childs = existing(engine, connections)
    assert found == {1, 2} and childs is not parents
    connections.close()  # the child's services closing
    assert is_closed(childs)
    assert not is_closed(parents) and parents in connections._parents  # kept: the parent's to use and to close
    parents.close()


def test_a_database_in_memory_is_read_on_the_pools_own_connection():
    """There each connection is a database of its own: a thread's connection would see an empty one."""
    engine = create_engine("sqlite://")
    migrate.upgrade(engine)
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_responses(connection, [1])
    connections = ReadingConnections(engine)
    try:
        assert existing(engine, connections)[0] == {1}
        with engine.begin() as connection:  # the database the reads see, still
            add_responses(connection, [2])
        assert existing(engine, connections)[0] == {1, 2}
    finally:
        connections.close()
        engine.dispose()


def test_a_unit_inside_another_of_the_same_thread_reads_on_a_pooled_connection(engine, connections):
    with DriverReadingUnit(engine, connections) as outer:
        found, inner = existing(engine, connections)
        assert found == {1, 2} and inner is not outer.facts.pooled
        assert outer.facts.for_export_responses(str(uuid.uuid4()), 43, [1]).existing_response_ids == {1}
    assert existing(engine, connections)[1] is outer.facts.pooled  # the thread's own again
