"""The attacks of issue 9, replayed on the wire against `export-responses serve`.

Each is bounded in time: the server runs with 1 s header and body deadlines here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from adapters.sql.tables import commands, exports
from tests.auth import TEST_TOKEN
from tests.builders import add_external_system, add_responses, count_rows
from tests.e2e.conftest import running_server
from tests.pgbouncer import QUERY_TIMEOUT_SECONDS, engine_for, past_the_pooler, service_environment

pytestmark = pytest.mark.e2e

DEADLINE_SECONDS = 1
MiB = 1024 * 1024
SYSTEM_ID, RESPONSE_ID = 7001, 7001


@pytest.fixture(scope="module")
def hostile_server(e2e_database_url, tmp_path_factory):
    engine = engine_for(e2e_database_url)
    with engine.begin() as connection:
        add_external_system(connection, SYSTEM_ID)
        add_responses(connection, [RESPONSE_ID])
    engine.dispose()
    settings = {
        "HEADER_READ_SECONDS": str(DEADLINE_SECONDS),
        "BODY_READ_SECONDS": str(DEADLINE_SECONDS),
        "LOCK_WAIT_SECONDS": "1",
    }
    with running_server(e2e_database_url, tmp_path_factory.mktemp("hostile"), **settings) as server:
        yield server


@pytest.fixture(scope="module")
def hostile_engine(hostile_server):
    engine = engine_for(hostile_server.database_url)
    yield engine
    engine.dispose()


def address(server) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def exchange(server, data: bytes, *, half_close: bool = False, timeout: float = 10) -> tuple[float, bytes]:
    """Send raw bytes, read until the server closes; (seconds taken, everything it sent)."""
    started = time.monotonic()
    with socket.create_connection(address(server), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return time.monotonic() - started, received


def parse_reply(raw: bytes) -> tuple[int, dict, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def command(uuid_text: str) -> bytes:
    data = {"external_system_id": SYSTEM_ID, "response_ids": [RESPONSE_ID]}
    return json.dumps({"uuid": uuid_text, "command": "ExportResponses", "data": data}).encode()


def request_bytes(method: str, target: str, body: bytes = b"", headers: str = "") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + headers + "\r\n").encode() + body


def commands_logged(engine, uuid_text: str) -> int:
    with engine.connect() as connection:
        return count_rows(connection, commands, id=uuid_text)


# ---- 1. authentication by route ---------------------------------------------------------

BYPASS_TARGETS = [
    "//api/v2/exports/export_responses",
    "///api/v2/exports/export_responses",
    "/api/v2/exports/export_responses/",
    "http://localhost//api/v2/exports/export_responses",
    "http://localhost/api/v2/exports/export_responses",
    "/api%2Fv2%2Fexports%2Fexport_responses",
    "/api/v2/exports/./export_responses",
    "/health/../api/v2/exports/export_responses",
    "/API/v2/exports/export_responses",
    "/api/v2/exports/export_responses;x=1",
    "/api/v2/exports/export_responses?x=1",
]


@pytest.mark.parametrize("target", BYPASS_TARGETS)
def test_no_spelling_of_the_command_path_queues_without_a_token(hostile_server, hostile_engine, target):
    command_uuid = str(uuid.uuid4())
    _, raw = exchange(hostile_server, request_bytes("POST", target, command(command_uuid)))
    status, headers, body = parse_reply(raw)
    assert status in (401, 404), raw[:300]
    assert body["errors"][0]["code"] in ("missing_credentials", "not_found")
    assert commands_logged(hostile_engine, command_uuid) == 0


@pytest.mark.parametrize(
    "target", ["//api/v2/exports", "http://localhost//api/v2/exports", "/api/v2/exports/", "//api/v2/openapi.json"]
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_no_spelling_of_a_reading_path_answers_without_a_token(hostile_server, target, method):
    _, raw = exchange(hostile_server, request_bytes(method, target))
    status = int(raw.split(b" ", 2)[1])
    assert status == 401, raw[:300]
    assert b'"exports"' not in raw and b'"openapi"' not in raw


def test_the_admins_url_with_user_info_authenticates_as_basic(hostile_server, hostile_engine):
    # The ET admin's HTTP client, like requests, turns ET_API_URL's user-info into Basic.
    with_user_info = hostile_server.base_url.replace("http://", f"http://admin:{TEST_TOKEN}@")
    command_uuid = str(uuid.uuid4())
    reply = requests.post(
        with_user_info + "/api/v2/exports/export_responses",
        data=command(command_uuid),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert reply.request.headers["Authorization"].startswith("Basic ")
    assert reply.status_code == 202 and commands_logged(hostile_engine, command_uuid) == 1
    wrong = hostile_server.base_url.replace("http://", "http://admin:not-the-token@")
    refused = requests.get(wrong + "/api/v2/exports", timeout=10)
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "invalid_credentials"


def test_each_refusal_is_logged_as_sent_without_credentials(hostile_server):
    before = len(hostile_server.output())
    exchange(hostile_server, request_bytes("GET", "///api/v2/exports"))
    exchange(hostile_server, request_bytes("GET", "http://admin:s3cret-token@x/api/v2/exports"))
    written = hostile_server.output()[before:]
    logged = [json.loads(line) for line in written.splitlines() if "authentication_failed" in line]
    assert [(line["sent_path"], line["reason"]) for line in logged] == [
        ("///api/v2/exports", "missing_credentials"),
        ("http://x/api/v2/exports", "missing_credentials"),
    ]
    assert "s3cret-token" not in written


# ---- 2. slow and idle clients -------------------------------------------------------------


def test_a_normal_request_gets_through_200_slow_and_idle_connections(hostile_server):
    stop = threading.Event()
    opened = []

    def slow_client(kind: int) -> None:
        try:
            sock = socket.create_connection(address(hostile_server), timeout=5)
        except OSError:
            return
        opened.append(sock)
        try:
            if kind == 1:  # a header line now and then, never the end of the headers
                sock.sendall(b"POST /api/v2/exports/export_responses HTTP/1.1\r\nHost: x\r\n")
                while not stop.wait(0.3):
                    sock.sendall(b"X-Slow: 1\r\n")
            elif kind == 2:  # the headers, then a body that never arrives in full
                sock.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
                while not stop.wait(0.3):
                    sock.sendall(b" ")
            else:  # connects and sends nothing
                stop.wait(10)
        except OSError:
            pass  # closed by the server at its deadline: what should happen

    with ThreadPoolExecutor(200) as pool:
        for number in range(200):
            pool.submit(slow_client, number % 3)
        time.sleep(0.5)
        assert len(opened) >= 190
        try:
            timings = []
            for _ in range(20):
                started = time.monotonic()
                reply = requests.get(hostile_server.url("/health/liveness"), timeout=(2, 2))
                timings.append(time.monotonic() - started)
                assert reply.status_code == 200
                time.sleep(0.1)
        finally:
            stop.set()
    assert max(timings) < 2


def test_headers_that_do_not_arrive_in_time_get_a_408(hostile_server):
    taken, raw = exchange(hostile_server, b"GET /health HTTP/1.1\r\nHost: x\r\n")
    status, headers, body = parse_reply(raw)
    assert (status, body["errors"][0]["code"]) == (408, "request_timeout")
    assert headers["content-type"] == "application/json; charset=utf-8" and "x-request-id" in headers
    assert DEADLINE_SECONDS <= taken < DEADLINE_SECONDS + 3


def test_a_body_that_does_not_arrive_in_time_gets_a_408(hostile_server, hostile_engine):
    command_uuid = str(uuid.uuid4())
    whole = request_bytes(
        "POST", "/api/v2/exports/export_responses", command(command_uuid), f"Authorization: Bearer {TEST_TOKEN}\r\n"
    )
    taken, raw = exchange(hostile_server, whole[:-10])
    status, _, body = parse_reply(raw)
    assert (status, body["errors"][0]["code"]) == (408, "request_timeout")
    assert DEADLINE_SECONDS <= taken < DEADLINE_SECONDS + 3
    assert commands_logged(hostile_engine, command_uuid) == 0


@pytest.mark.parametrize(
    "head",
    [
        b"GET /health/liveness HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
        b"POST /api/v2/exports/export_responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nFFFFFF\r\n",
    ],
    ids=["content-length over the limit", "a chunk over the limit"],
)
def test_a_body_announced_over_the_limit_is_refused_at_once_and_holds_no_thread(hostile_server, head):
    # Eight such clients trickling bytes once held every thread (a drain with no deadline).
    stop = threading.Event()

    def trickle():
        with socket.create_connection(address(hostile_server), timeout=5) as sock:
            sock.sendall(head)
            while not stop.wait(0.2):
                try:
                    sock.sendall(b"a")
                except OSError:
                    return

    threads = [threading.Thread(target=trickle) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            assert requests.get(hostile_server.url("/health/liveness"), timeout=(2, 2)).status_code == 200
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    _, raw = exchange(hostile_server, head)
    status, _, body = parse_reply(raw)
    assert (status, body["errors"][0]["code"]) == (413, "payload_too_large")


def test_an_idle_connection_is_closed_without_a_reply(hostile_server):
    taken, raw = exchange(hostile_server, b"")
    assert raw == b"" and taken < DEADLINE_SECONDS + 3


# ---- 3. bounded work per request ------------------------------------------------------------


def worker_pids(server) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_body_of_empty_ids_gets_a_small_reply_and_leaves_no_memory_behind(hostile_server):
    ids = ",".join(['""'] * 349_000)
    data = f'{{"external_system_id":1,"response_ids":[{ids}]}}'
    body = f'{{"uuid":"{uuid.uuid4()}","command":"ExportResponses","data":{data}}}'.encode()
    assert len(body) <= MiB
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TEST_TOKEN}"}
    # Warm each worker up first, so that what follows measures the hostile requests only.
    for _ in range(4):
        requests.post(hostile_server.url("/api/v2/exports/export_responses"), data=b"{}", headers=headers, timeout=10)
    before = {pid: rss_bytes(pid) for pid in worker_pids(hostile_server)}
    with ThreadPoolExecutor(6) as pool:
        replies = list(
            pool.map(
                lambda _: requests.post(
                    hostile_server.url("/api/v2/exports/export_responses"), data=body, headers=headers, timeout=30
                ),
                range(6),
            )
        )
    for reply in replies:
        assert reply.status_code == 400
        assert len(reply.content) < 2 * MiB // 100  # a few kB: one error, not 349,000
        assert [e["code"] for e in reply.json()["errors"]] == ["too_many_response_ids"]
    after = {pid: rss_bytes(pid) for pid in worker_pids(hostile_server)}
    growth = max(after[pid] - before.get(pid, after[pid]) for pid in after)
    assert growth < 40 * MiB, f"a worker kept {growth / MiB:.0f} MiB"


def test_thousands_of_bad_ids_list_the_first_hundred_and_the_total(hostile_server):
    body = json.dumps(
        {
            "uuid": str(uuid.uuid4()),
            "command": "ExportResponses",
            "data": {"external_system_id": SYSTEM_ID, "response_ids": ["x"] * 5000},
        }
    ).encode()
    reply = requests.post(
        hostile_server.url("/api/v2/exports/export_responses"),
        data=body,
        timeout=30,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TEST_TOKEN}"},
    )
    errors = reply.json()["errors"]
    assert reply.status_code == 400 and len(errors) == 101
    assert {e["code"] for e in errors[:100]} == {"invalid_type"}
    assert errors[100]["code"] == "too_many_errors" and "5000 problems" in errors[100]["detail"]
    assert len(reply.content) < 64 * 1024  # 101 errors, whatever the number of bad ids


# ---- 5. body-reading faults -----------------------------------------------------------------

CHUNKED_HEAD = (
    f"POST /api/v2/exports/export_responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEST_TOKEN}\r\n"
    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
).encode()


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"-5\r\nabc\r\n0\r\n\r\n",
        b"2\r\nabcdef\r\n0\r\n\r\n",
        b"5;\x00\r\nabcde\r\n0\r\n\r\n",
    ],
    ids=["not hex", "negative", "longer than announced", "bad extension"],
)
def test_malformed_chunking_is_a_400_in_the_envelope(hostile_server, chunks):
    _, raw = exchange(hostile_server, CHUNKED_HEAD + chunks)
    status, headers, body = parse_reply(raw)
    assert status == 400 and body["errors"][0]["code"] in ("unreadable_body", "bad_request")
    assert headers["content-type"] == "application/json; charset=utf-8"


def test_a_body_shorter_than_its_length_then_a_half_close_is_a_400_not_parsed(hostile_server, hostile_engine):
    command_uuid = str(uuid.uuid4())
    whole = request_bytes(
        "POST",
        "/api/v2/exports/export_responses",
        command(command_uuid) + b" " * 50,
        f"Authorization: Bearer {TEST_TOKEN}\r\n",
    )
    _, raw = exchange(hostile_server, whole[:-50], half_close=True)
    status, _, body = parse_reply(raw)
    assert (status, body["errors"][0]["code"]) == (400, "incomplete_body")
    assert commands_logged(hostile_engine, command_uuid) == 0


def test_a_client_gone_mid_chunk_is_closed_quietly(hostile_server):
    before = len(hostile_server.output())
    with socket.create_connection(address(hostile_server)) as sock:
        sock.sendall(CHUNKED_HEAD + b'100\r\n{"uuid"')
    time.sleep(0.3)
    assert requests.get(hostile_server.url("/health/liveness"), timeout=5).status_code == 200
    assert "Traceback" not in hostile_server.output()[before:]


# ---- 8. gunicorn's own refusals in the envelope ------------------------------------------------


@pytest.mark.parametrize(
    "data, status, code",
    [
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (
            b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
            431,
            "headers_too_large",
        ),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n", 431, "headers_too_large"),
    ],
    ids=["bad request line", "request line too long", "too many headers", "header too long"],
)
def test_the_servers_own_refusals_are_in_the_envelope(hostile_server, data, status, code):
    _, raw = exchange(hostile_server, data)
    got, headers, body = parse_reply(raw)
    assert (got, body["errors"][0]["code"], body["errors"][0]["status"]) == (status, code, status)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff" and "x-request-id" in headers


def test_every_server_log_line_is_one_json_object(hostile_server):
    exchange(hostile_server, b"GARBAGE\r\n\r\n")
    lines = [line for line in hostile_server.output().splitlines() if line.strip()]
    # Alembic is not run by serve; every other line is the service's or gunicorn's.
    for line in lines:
        event = json.loads(line)
        assert {"time", "level", "logger", "event"} <= set(event), line


# ---- 4. bounded waits on the database -----------------------------------------------------------

HOLD_SQLITE_LOCK = """
import os, signal, sys
from adapters.sql.engine import create_engine
engine = create_engine(sys.argv[1])
connection = engine.connect()
connection.begin()
print("held", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
"""


def test_a_writer_lock_held_by_a_stopped_process_is_a_503_within_the_lock_wait(hostile_server, hostile_engine):
    if not hostile_server.database_url.startswith("sqlite"):
        hold = _hold_postgres_lock(hostile_server.database_url)
    else:
        hold = _hold_sqlite_lock(hostile_server.database_url)
    try:
        command_uuid = str(uuid.uuid4())
        started = time.monotonic()
        reply = requests.post(
            hostile_server.url("/api/v2/exports/export_responses"),
            data=command(command_uuid),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TEST_TOKEN}"},
            timeout=15,
        )
        taken = time.monotonic() - started
        assert (reply.status_code, reply.json()["errors"][0]["code"]) == (503, "service_unavailable")
        assert reply.headers["Retry-After"].isdigit()
        # Behind PgBouncer the reading statement's bound is PgBouncer's query_timeout.
        bound = QUERY_TIMEOUT_SECONDS + 3 if service_environment(hostile_server.database_url) else 5
        assert taken < bound, f"waited {taken:.1f} s"
        assert requests.get(hostile_server.url("/health/liveness"), timeout=3).status_code == 200
        time.sleep(1.1)  # past the readiness probe's cached answer
        # SQLite has one writer lock for the whole file: no write can happen, so not ready.
        # PostgreSQL still takes writes to every table but the two locked ones.
        expected = 503 if hostile_server.database_url.startswith("sqlite") else 200
        assert requests.get(hostile_server.url("/health/readiness"), timeout=10).status_code == expected
    finally:
        hold()
    reply = requests.post(
        hostile_server.url("/api/v2/exports/export_responses"),
        data=command(command_uuid),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TEST_TOKEN}"},
        timeout=15,
    )
    assert reply.status_code == 202
    time.sleep(1.1)
    assert requests.get(hostile_server.url("/health/readiness"), timeout=10).status_code == 200


def _hold_sqlite_lock(database_url: str):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SQLITE_LOCK, database_url],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert holder.stdout.readline().strip() == b"held"
    deadline = time.monotonic() + 5
    while Path(f"/proc/{holder.pid}/stat").read_text().split()[2] != "T":
        assert time.monotonic() < deadline, "the lock holder did not stop"
        time.sleep(0.05)

    def release():
        os.kill(holder.pid, 9)
        holder.wait(timeout=5)

    return release


def _hold_postgres_lock(database_url: str):
    # Straight on the cluster: through PgBouncer its query_timeout could end the holder,
    # and with it the lock, before the request it blocks gives up.
    engine = engine_for(past_the_pooler(database_url))
    connection = engine.connect()
    connection.begin()
    connection.execute(sa.text(f"LOCK TABLE {commands.name}, {exports.name} IN ACCESS EXCLUSIVE MODE"))

    def release():
        try:
            connection.rollback()
        except sa.exc.OperationalError:
            pass  # behind PgBouncer, its query_timeout may have ended the holder: the lock went with it
        connection.close()
        engine.dispose()

    return release
