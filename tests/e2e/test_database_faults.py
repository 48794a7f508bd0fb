"""The service when its PostgreSQL goes away and comes back.

A real gunicorn server on a PostgreSQL cluster of its own (the session's cluster is
shared; this one is stopped): while the database is down every command is a quick 503
in the error envelope, nothing is half-written, and once the database is back the
same server process recovers by itself. And a database that accepts connections but
never answers costs a request the connect timeout, not a hang; and a unit of work
whose connection dies under it ends in the ports' terms, never a raw database error.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from functools import partial

import pytest
import requests
import sqlalchemy as sa

from adapters.sql import migrate, tables
from adapters.sql.engine import POSTGRES_CONNECT_TIMEOUT_SECONDS, create_engine
from adapters.sql.reading import DriverReadingUnit, ReadingConnections
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import StoreUnavailable, UnitOfWork
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app
from tests.auth import AUTHORIZATION, TEST_TOKEN, authenticated_client
from tests.builders import add_external_system, add_responses, count_rows
from tests.databases import start_cluster, start_pgbouncer
from tests.e2e.conftest import running_server
from tests.pgbouncer import engine_for

pytestmark = pytest.mark.e2e
HEADERS = {**AUTHORIZATION, "Content-Type": "application/json"}
QUICK = 5.0  # seconds: the longest a refusal may take while the database is down
RECOVERY_SECONDS = 10.0
WAIT_SECONDS = 15.0
DATABASES = {"direct": "export_responses", "pgbouncer": "export_responses_pooled"}


@pytest.fixture(scope="module")
def own_cluster():
    """A PostgreSQL cluster for this module alone, with a migrated, seeded database for
    the server direct and one for the server through PgBouncer."""
    cluster = start_cluster()
    try:
        for name in DATABASES.values():
            engine = create_engine(cluster.create_database(name))
            migrate.upgrade(engine)
            with engine.begin() as connection:
                add_external_system(connection, 43)
                add_responses(connection, range(1, 11))
            engine.dispose()
        yield cluster
    finally:
        # A test that failed while the server was stopped leaves pg_ctl nothing to stop.
        with suppress(subprocess.CalledProcessError):
            cluster.stop()


@pytest.fixture(scope="module")
def own_pgbouncer(own_cluster):
    """A PgBouncer in transaction pooling mode in front of the module's cluster."""
    bouncer = start_pgbouncer(own_cluster)
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="module", params=["direct", "pgbouncer"])
def server_on_own_cluster(request, own_cluster, tmp_path_factory):
    """`export-responses serve` (gunicorn, two workers) on the module's cluster, direct or
    through PgBouncer (with DATABASE_POOLING=transaction)."""
    url = f"{own_cluster.url}/{DATABASES[request.param]}"
    if request.param == "pgbouncer":
        url = request.getfixturevalue("own_pgbouncer").url_of(url) + "?prepare_threshold=None"
    with running_server(url, tmp_path_factory.mktemp("faults-server")) as server:
        yield server


def command(ids) -> tuple[str, dict]:
    command_uuid = str(uuid.uuid4())
    return command_uuid, {
        "uuid": command_uuid,
        "command": "ExportResponses",
        "data": {"external_system_id": 43, "response_ids": list(ids)},
    }


def timed(method: str, url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    reply = requests.request(method, url, timeout=(2, 15), **kwargs)
    return reply, time.monotonic() - started


def assert_unavailable_envelope(reply: requests.Response) -> None:
    assert reply.status_code == 503, (reply.status_code, reply.text)
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.headers["Retry-After"].isdigit()
    error = reply.json()["errors"][0]
    assert list(error) == ["status", "code", "title", "detail", "source", "command", "uuid"]
    assert (error["status"], error["code"], error["source"]) == (503, "service_unavailable", "/")


@pytest.mark.postgres
def test_commands_are_503s_while_postgres_is_down_and_the_server_recovers_by_itself(own_cluster, server_on_own_cluster):
    server = server_on_own_cluster
    first_uuid, first = command([1, 2])
    accepted = requests.post(server.url(EXPORT_RESPONSES_PATH), json=first, headers=HEADERS, timeout=(2, 15))
    assert accepted.status_code == 202

    own_cluster.stop_server()
    refused_uuids = []
    try:
        # Enough requests to reach both gunicorn workers and several pooled connections.
        for ids in ([3], [4], [3, 4], [5], [6], [7]):
            refused_uuid, body = command(ids)
            reply, seconds = timed("POST", server.url(EXPORT_RESPONSES_PATH), json=body, headers=HEADERS)
            assert_unavailable_envelope(reply)
            assert seconds < QUICK, f"a refusal took {seconds:.1f} s"
            refused_uuids.append(refused_uuid)
        repeat, _ = timed("POST", server.url(EXPORT_RESPONSES_PATH), json=first, headers=HEADERS)
        assert_unavailable_envelope(repeat)
        for _ in range(4):
            health, seconds = timed("GET", server.url("/health"))
            assert health.status_code == 503 and seconds < QUICK
            assert health.json()["database"] == "unavailable"
            assert health.json()["errors"][0]["code"] == "service_unavailable"
    finally:
        own_cluster.start_server()

    # A new command, sent again under its uuid until accepted, as a client told Retry-After
    # would: each refusal wrote nothing, so the uuid is free until it is accepted.
    retried_uuid, retried = command([3, 4])
    started = time.monotonic()
    while True:
        reply, _ = timed("POST", server.url(EXPORT_RESPONSES_PATH), json=retried, headers=HEADERS)
        if reply.status_code == 202:
            break
        assert_unavailable_envelope(reply)
        assert time.monotonic() - started < RECOVERY_SECONDS, "the server did not recover"
        time.sleep(0.2)
    recovered_after = time.monotonic() - started
    assert [requests.get(server.url("/health"), timeout=(2, 15)).status_code for _ in range(4)] == [200] * 4
    again = requests.post(server.url(EXPORT_RESPONSES_PATH), json=first, headers=HEADERS, timeout=(2, 15))
    assert (again.status_code, again.content) == (202, accepted.content)
    print(f"\nrecovered {recovered_after:.2f} s after PostgreSQL was back")

    engine = engine_for(server.database_url)
    try:
        with engine.connect() as connection:
            logged = set(connection.execute(sa.select(tables.commands.c.id)).scalars())
            exports = connection.execute(
                sa.select(tables.exports.c.command_uuid, tables.exports.c.resource_id, tables.exports.c.state).order_by(
                    tables.exports.c.resource_id
                )
            ).all()
            events = count_rows(connection, tables.export_events)
    finally:
        engine.dispose()
    assert logged == {first_uuid, retried_uuid}
    assert exports == [
        (first_uuid, 1, "queued"),
        (first_uuid, 2, "queued"),
        (retried_uuid, 3, "queued"),
        (retried_uuid, 4, "queued"),
    ]
    assert events == 4
    assert not logged & set(refused_uuids)
    assert server.process.poll() is None, "the server exited"
    output = server.output()
    assert "Traceback" not in output and '"status": 500' not in output, output[-5000:]
    assert output.count('"status": 503') >= 7
    assert output.count("Booting worker") == 2, "a gunicorn worker was replaced"


@pytest.fixture
def silent_database():
    """A PostgreSQL URL whose 'server' accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield f"postgresql+psycopg://postgres@127.0.0.1:{listener.getsockname()[1]}/export_responses"
    listener.close()
    for connection in held:
        connection.close()


def test_a_database_that_never_answers_costs_a_request_the_connect_timeout_not_a_hang(silent_database, tmp_path):
    services = bootstrap(Settings(silent_database, tmp_path, api_tokens=(TEST_TOKEN,)))
    client = authenticated_client(create_app(services))
    replies: dict[str, tuple[int, float]] = {}

    def ask(name: str, request) -> None:
        started = time.monotonic()
        replies[name] = (request().status_code, time.monotonic() - started)

    _, body = command([1])
    askers = [
        threading.Thread(target=ask, args=("command", lambda: client.simulate_post(EXPORT_RESPONSES_PATH, json=body))),
        threading.Thread(target=ask, args=("health", lambda: client.simulate_get("/health"))),
    ]
    for asker in askers:
        asker.daemon = True  # a hung request must not hang the test session too
        asker.start()
    deadline = time.monotonic() + 15
    for asker in askers:
        asker.join(timeout=max(0, deadline - time.monotonic()))
    services.close()
    assert not any(asker.is_alive() for asker in askers), f"still waiting after 15 s: {replies}"
    assert replies["command"][0] == 503 and replies["health"][0] == 503, replies
    assert max(seconds for _, seconds in replies.values()) < POSTGRES_CONNECT_TIMEOUT_SECONDS + 3, replies


def commands_sent_during(server, disruption, what: str) -> list[tuple[str, int | str, float]]:
    """Six clients send commands while `disruption()` runs, and until one is accepted after
    it; each sent command's uuid, its status (or the client's error) and seconds. A 202
    that does not echo its own command's uuid would be another client's reply: a failure."""
    stop = threading.Event()
    sent: list[tuple[str, int | str, float]] = []
    wrong: list[str] = []

    def keep_sending() -> None:
        session = requests.Session()
        while not stop.is_set():
            command_uuid, body = command([5 + len(sent) % 6, 1 + len(sent) % 10])
            started = time.monotonic()
            try:
                reply = session.post(server.url(EXPORT_RESPONSES_PATH), json=body, headers=HEADERS, timeout=(2, 15))
                status = reply.status_code
                if status == 202 and reply.json()["uuid"] != command_uuid:
                    wrong.append(reply.text)
            except requests.RequestException as error:
                status = repr(error)
            sent.append((command_uuid, status, time.monotonic() - started))

    senders = [threading.Thread(target=keep_sending, daemon=True) for _ in range(6)]
    for sender in senders:
        sender.start()
    try:
        time.sleep(0.3)
        disruption()
        deadline = time.monotonic() + RECOVERY_SECONDS
        while not sent or sent[-1][1] != 202:
            assert time.monotonic() < deadline, f"no command was accepted after {what}"
            time.sleep(0.05)
    finally:
        stop.set()
        for sender in senders:
            sender.join(WAIT_SECONDS)
    assert not wrong, f"replies to other commands: {wrong}"
    print(f"\n{len(sent)} commands while {what}: {dict(Counter(status for _, status, _ in sent))}")
    return sent


def assert_202s_or_503s_and_never_half_written(server, sent, logged_before: int) -> None:
    statuses = Counter(status for _, status, _ in sent)
    assert set(statuses) <= {202, 503}, (statuses, server.output()[logged_before:][-20_000:])
    assert statuses[202] >= 10, statuses
    assert max(seconds for _, _, seconds in sent) < QUICK
    engine = engine_for(server.database_url)
    try:
        with engine.connect() as connection:
            logged = set(connection.execute(sa.select(tables.commands.c.id)).scalars())
            exported_for = set(connection.execute(sa.select(tables.exports.c.command_uuid)).scalars())
    finally:
        engine.dispose()
    accepted = {command_uuid for command_uuid, status, _ in sent if status == 202}
    refused = {command_uuid for command_uuid, status, _ in sent if status == 503}
    assert accepted <= logged
    assert not refused & logged and not refused & exported_for, "a command refused with 503 left rows behind"
    output = server.output()[logged_before:]
    assert "Traceback" not in output and '"status": 500' not in output, output[-5000:]
    assert server.process.poll() is None, "the server exited"
    assert server.output().count("Booting worker") == 2, "a gunicorn worker was replaced"


@pytest.mark.postgres
def test_commands_in_flight_when_postgres_stops_are_202s_or_503s_and_never_half_written(
    own_cluster, server_on_own_cluster
):
    server = server_on_own_cluster
    logged_before = len(server.output())

    database = sa.make_url(server.database_url).database
    holder = create_engine(f"{own_cluster.url}/{database}")

    def restart() -> None:
        # A lock that queuing a command waits for, so that the stop lands while at least
        # one accepted command is inside its transaction, whatever the timing (PgBouncer
        # holds new transactions while the server is away, and they would all be 202s).
        connection = holder.connect()
        try:
            connection.execute(sa.text(f"LOCK TABLE {tables.commands.name} IN SHARE MODE"))
            _wait_for_a_backend_waiting_on_a_lock(own_cluster, database)
            own_cluster.stop_server()
            time.sleep(0.3)
        finally:
            connection.invalidate()  # its server process ended with the stop
            own_cluster.start_server()

    try:
        sent = commands_sent_during(server, restart, "PostgreSQL stopped and started")
    finally:
        holder.dispose()
    assert any(status == 503 for _, status, _ in sent), "no command met the stopped server"
    assert_202s_or_503s_and_never_half_written(server, sent, logged_before)


@pytest.mark.postgres
def test_every_connection_of_the_service_ended_under_load_costs_503s_at_most(own_cluster, server_on_own_cluster):
    """As a failover or an operator's pg_terminate_backend does, three times over."""
    server = server_on_own_cluster
    logged_before = len(server.output())
    admin = create_engine(f"{own_cluster.url}/postgres", isolation_level="AUTOCOMMIT")
    others = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()")
    name = sa.make_url(server.database_url).database

    def terminate_every_connection() -> None:
        for _ in range(3):
            with admin.connect() as connection:
                pids = set(connection.execute(others, {"name": name}).scalars())
            assert pids, "the service had no connection to end"
            _terminate_backends(admin, pids)
            time.sleep(0.2)

    try:
        sent = commands_sent_during(server, terminate_every_connection, "every connection was ended")
    finally:
        admin.dispose()
    assert_202s_or_503s_and_never_half_written(server, sent, logged_before)


def _wait_for_a_backend_waiting_on_a_lock(cluster, database: str) -> None:
    admin = create_engine(f"{cluster.url}/postgres", isolation_level="AUTOCOMMIT")
    waiting = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND wait_event_type = 'Lock'")
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        with admin.connect() as connection:
            while not connection.execute(waiting, {"name": database}).scalar():
                assert time.monotonic() < deadline, "no command waited for the lock"
                time.sleep(0.01)
    finally:
        admin.dispose()


def _terminate_backend_of(uow: SqlAlchemyUnitOfWork, admin: sa.Engine) -> None:
    """End the unit's server process, as a fast shutdown does, and wait until it is gone."""
    _terminate_backends(admin, {uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()})


def _existing(uow: UnitOfWork, response_ids: list[int]) -> frozenset[int]:
    return uow.facts.for_export_responses(str(uuid.uuid4()), 43, response_ids).existing_response_ids


def _terminate_backends(admin: sa.Engine, pids: set[int]) -> None:
    with admin.connect() as connection:
        for pid in pids:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + WAIT_SECONDS
        query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
        while connection.execute(query, {"pids": sorted(pids)}).scalar():
            assert time.monotonic() < deadline, "the backends did not end"
            time.sleep(0.01)


@pytest.mark.postgres
def test_a_unit_of_work_whose_connection_dies_ends_in_the_ports_terms(own_cluster):
    engine = create_engine(f"{own_cluster.url}/export_responses")
    admin = create_engine(f"{own_cluster.url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        # Read, then the connection dies before the unit ends: what was read stands.
        with SqlAlchemyUnitOfWork(engine, read_only=True) as uow:
            facts = uow.facts.for_export_responses(str(uuid.uuid4()), 43, [1])
            _terminate_backend_of(uow, admin)
        assert facts.system is not None and facts.system.id == 43
        # The connection dies before a statement: the statement's failure is StoreUnavailable.
        with pytest.raises(StoreUnavailable):
            with SqlAlchemyUnitOfWork(engine) as uow:
                _terminate_backend_of(uow, admin)
                uow.facts.for_export_responses(str(uuid.uuid4()), 43, [1])
        with SqlAlchemyUnitOfWork(engine, read_only=True) as uow:  # the pool recovers
            assert _existing(uow, [1, 99]) == {1}
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.postgres
def test_the_driver_reading_unit_whose_connection_died_is_unavailable_and_the_pool_recovers(own_cluster):
    engine = create_engine(f"{own_cluster.url}/export_responses")
    admin = create_engine(f"{own_cluster.url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(StoreUnavailable):
            with DriverReadingUnit(engine) as uow:
                cursor = uow.pooled.cursor()
                cursor.execute("SELECT pg_backend_pid()")
                (pid,) = cursor.fetchone()
                cursor.close()
                _terminate_backends(admin, {pid})
                uow.facts.for_export_responses(str(uuid.uuid4()), 43, [1])
        for _ in range(3):  # the dead connection was dropped, not pooled again
            with DriverReadingUnit(engine) as uow:
                assert _existing(uow, [1, 99]) == {1}
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.postgres
def test_a_threads_reading_connection_the_server_ended_is_replaced_before_a_read(own_cluster):
    """As the pool's checkout does, without a round trip: the caller sees no error."""
    engine = create_engine(f"{own_cluster.url}/export_responses")
    admin = create_engine(f"{own_cluster.url}/postgres", isolation_level="AUTOCOMMIT")
    connections = ReadingConnections(engine)
    try:
        with DriverReadingUnit(engine, connections) as uow:
            cursor = uow.facts.pooled.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
            cursor.close()
        _terminate_backends(admin, {pid})
        for _ in range(3):
            with DriverReadingUnit(engine, connections) as uow:
                assert _existing(uow, [1, 99]) == {1}
                replaced = uow.facts.pooled
        cursor = replaced.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    finally:
        connections.close()
        engine.dispose()
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("reading", [partial(SqlAlchemyUnitOfWork, read_only=True), DriverReadingUnit])
def test_pooled_connections_the_server_ended_are_replaced_on_checkout(own_cluster, reading):
    """Without a round trip per checkout: the kernel says the server closed the socket."""
    engine = create_engine(f"{own_cluster.url}/export_responses", pool_size=2)
    admin = create_engine(f"{own_cluster.url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as first, engine.connect() as second:
            pids = {c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in (first, second)}
        _terminate_backends(admin, pids)
        for _ in range(3):  # every pooled connection was dead; none reaches the caller
            with reading(engine) as uow:
                assert _existing(uow, [1, 99]) == {1}
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() not in pids
    finally:
        engine.dispose()
        admin.dispose()
