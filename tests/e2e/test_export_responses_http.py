"""Export Responses over real HTTP: gunicorn, two workers, SQLite and PostgreSQL.

The documented scenarios byte for byte, idempotency under concurrent twins, one
pending export per response under concurrent commands, and malformed requests.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from adapters.sql.tables import commands, export_events, exports
from tests import metrics
from tests.auth import AUTHORIZATION
from tests.builders import add_external_system, add_responses, count_rows
from tests.e2e.conftest import REQUEST_TIMEOUT

pytestmark = pytest.mark.e2e

EXPORT_PATH = "/api/v2/exports/export_responses"
REQUEST_HEADERS = {"Content-Type": "application/json", "Accept": "application/json", **AUTHORIZATION}
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
SECURITY_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-XSS-Protection": "1; mode=block",
    "X-Content-Type-Options": "nosniff",
    "X-Download-Options": "noopen",
    "X-Permitted-Cross-Domain-Policies": "none",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-cache",
}
RUNTIME = re.compile(r"^\d+\.\d{6}$")
ERROR_KEYS = ["status", "code", "title", "detail", "source", "command", "uuid"]
MiB = 1024 * 1024
CONCURRENCY = 16


# ---- the wire -------------------------------------------------------------------------


def command_body(command_uuid: str, system_id: int, response_ids: list[int], **extra) -> bytes:
    data = {"external_system_id": system_id, "response_ids": response_ids}
    return json.dumps({"uuid": command_uuid, "command": "ExportResponses", "data": data, **extra}).encode()


def post(server, body: bytes, headers=REQUEST_HEADERS, path=EXPORT_PATH) -> requests.Response:
    return requests.post(server.url(path), data=body, headers=headers, timeout=REQUEST_TIMEOUT)


def post_together(server, bodies: list[bytes]) -> list[requests.Response]:
    """POST every body at once: each thread waits at a barrier, then all fire."""
    barrier = threading.Barrier(len(bodies))

    def fire(body: bytes) -> requests.Response:
        barrier.wait(timeout=30)
        return post(server, body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(fire, bodies))


def assert_contract_headers(reply: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name) == value, name
    assert reply.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert uuid.UUID(reply.headers["X-Request-Id"]).version == 4
    assert RUNTIME.match(reply.headers["X-Runtime"]), reply.headers["X-Runtime"]
    assert int(reply.headers["Content-Length"]) == len(reply.content)


def assert_reply(reply: requests.Response, status: int, body: bytes) -> None:
    assert (reply.status_code, reply.content) == (status, body), reply.text
    assert_contract_headers(reply)


# ---- the database ---------------------------------------------------------------------


def seed(engine, system_id: int | None = None, response_ids=()) -> None:
    with engine.begin() as connection:
        if system_id is not None:
            add_external_system(connection, system_id)
        add_responses(connection, response_ids)


def exports_of(engine, response_id: int, system_id: int) -> list:
    query = sa.select(exports).where(
        exports.c.resource_type == "Response",
        exports.c.resource_id == response_id,
        exports.c.external_system_id == system_id,
    )
    with engine.connect().execution_options(read_only=True) as connection:
        return list(connection.execute(query))


def events_of(engine, export_id: int) -> list:
    with engine.connect().execution_options(read_only=True) as connection:
        return list(connection.execute(sa.select(export_events).where(export_events.c.export_id == export_id)))


def rows_in(engine, table, **where) -> int:
    with engine.connect().execution_options(read_only=True) as connection:
        return count_rows(connection, table, **where)


def assert_queued_once(engine, response_id: int, system_id: int, command_uuid: str | None = None) -> None:
    """Exactly one export of the response to the system: queued, with its one queued event."""
    [export] = exports_of(engine, response_id, system_id)
    assert (export.state, export.percent_complete) == ("queued", 0)
    if command_uuid is not None:
        assert str(export.command_uuid) == command_uuid
    [event] = events_of(engine, export.id)
    assert (event.state, event.percent_complete) == ("queued", 0)


def assert_nothing_written(engine, command_uuid: str, response_ids, system_id: int) -> None:
    assert rows_in(engine, commands, id=command_uuid) == 0
    for response_id in response_ids:
        assert exports_of(engine, response_id, system_id) == []


# ---- the documented scenarios ---------------------------------------------------------


@pytest.fixture(scope="module")
def documented_data(server_engine):
    """The rows the documentation's examples assume: system 43, responses 18, 19, 20."""
    seed(server_engine, 43, [18, 19, 20])


def test_exports_an_existing_response(live_server, server_engine, documented_data):
    command_uuid = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
    body = command_body(command_uuid, 43, [18], **{"async": False})  # as the admin client sends it
    expected = b'{"status":"accepted","meta":{},"uuid":"fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"}'

    first = post(live_server, body)
    assert_reply(first, 202, expected)
    assert_queued_once(server_engine, 18, 43, command_uuid)
    assert rows_in(server_engine, commands, id=command_uuid) == 1

    again = post(live_server, body)
    assert_reply(again, 202, expected)
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    assert_queued_once(server_engine, 18, 43, command_uuid)
    assert rows_in(server_engine, commands, id=command_uuid) == 1


def test_refuses_a_non_existent_external_system(live_server, server_engine, documented_data):
    # The documentation's request, as its cURL line sends it: pretty-printed.
    body = b"""{
  "uuid": "9f6e3de8-e731-4b7e-9f10-69e9e70e200b",
  "command": "ExportResponses",
  "data": {
    "external_system_id": -1,
    "response_ids": [
      19
    ]
  }
}"""
    expected = (
        b'{"status":"not_accepted","uuid":"9f6e3de8-e731-4b7e-9f10-69e9e70e200b","errors":[{"status":422,'
        b'"code":"external_system_not_found","title":"The external system with an id of -1 was not found",'
        b'"detail":"The external system with an id of -1 was not found","source":"/external_system_id",'
        b'"command":"ExportResponses","uuid":"9f6e3de8-e731-4b7e-9f10-69e9e70e200b"}]}'
    )

    assert_reply(post(live_server, body), 400, expected)
    assert_nothing_written(server_engine, "9f6e3de8-e731-4b7e-9f10-69e9e70e200b", [19], -1)
    assert rows_in(server_engine, exports, resource_id=19) == 0


def test_refuses_non_existent_responses(live_server, server_engine, documented_data):
    command_uuid = "bb86cdc9-9900-4cec-82a3-1355649c00d7"
    expected = (
        b'{"status":"not_accepted","uuid":"bb86cdc9-9900-4cec-82a3-1355649c00d7","errors":['
        b'{"status":422,"code":"response_not_found","title":"A response with an id of -1 was not found",'
        b'"detail":"A response with an id of -1 was not found","source":"/response_ids",'
        b'"command":"ExportResponses","uuid":"bb86cdc9-9900-4cec-82a3-1355649c00d7"},'
        b'{"status":422,"code":"response_not_found","title":"A response with an id of -2 was not found",'
        b'"detail":"A response with an id of -2 was not found","source":"/response_ids",'
        b'"command":"ExportResponses","uuid":"bb86cdc9-9900-4cec-82a3-1355649c00d7"}]}'
    )

    assert_reply(post(live_server, command_body(command_uuid, 43, [20, -1, -2])), 400, expected)
    assert_nothing_written(server_engine, command_uuid, [20], 43)


# ---- concurrency ----------------------------------------------------------------------


def test_concurrent_twins_of_one_command_are_run_once(live_server, server_engine, new_id):
    system_id = new_id()
    response_ids = [new_id() for _ in range(4)]
    seed(server_engine, system_id, response_ids)
    command_uuid = str(uuid.uuid4())
    body = command_body(command_uuid, system_id, response_ids)
    expected = b'{"status":"accepted","meta":{},"uuid":"%s"}' % command_uuid.encode()

    replies = post_together(live_server, [body] * CONCURRENCY)

    assert [(r.status_code, r.content) for r in replies] == [(202, expected)] * CONCURRENCY
    for reply in replies:
        assert_contract_headers(reply)
    assert len({reply.headers["X-Request-Id"] for reply in replies}) == CONCURRENCY
    assert rows_in(server_engine, commands, id=command_uuid) == 1
    for response_id in response_ids:
        assert_queued_once(server_engine, response_id, system_id, command_uuid)

    assert_reply(post(live_server, body), 202, expected)
    assert rows_in(server_engine, commands, id=command_uuid) == 1
    for response_id in response_ids:
        assert_queued_once(server_engine, response_id, system_id, command_uuid)


def test_concurrent_commands_queue_one_export_of_a_response(live_server, server_engine, new_id):
    system_id, response_id = new_id(), new_id()
    seed(server_engine, system_id, [response_id])
    uuids = [str(uuid.uuid4()) for _ in range(CONCURRENCY)]

    replies = post_together(live_server, [command_body(u, system_id, [response_id]) for u in uuids])

    expected = [(202, b'{"status":"accepted","meta":{},"uuid":"%s"}' % u.encode()) for u in uuids]
    assert [(r.status_code, r.content) for r in replies] == expected
    for reply in replies:
        assert_contract_headers(reply)
    assert [rows_in(server_engine, commands, id=u) for u in uuids] == [1] * CONCURRENCY
    assert_queued_once(server_engine, response_id, system_id)
    [export] = exports_of(server_engine, response_id, system_id)
    assert str(export.command_uuid) in uuids


# ---- the body limit -------------------------------------------------------------------


def padded(body: bytes, size: int) -> bytes:
    """`body` (a JSON object) grown to exactly `size` bytes with insignificant whitespace."""
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + body[-1:]


def _in_chunks(body: bytes, size: int = 64 * 1024):
    return (body[start : start + size] for start in range(0, len(body), size))


def test_accepts_a_body_of_exactly_the_limit(live_server, server_engine, new_id):
    system_id, response_id = new_id(), new_id()
    seed(server_engine, system_id, [response_id])
    command_uuid = str(uuid.uuid4())

    reply = post(live_server, padded(command_body(command_uuid, system_id, [response_id]), MiB))

    assert_reply(reply, 202, b'{"status":"accepted","meta":{},"uuid":"%s"}' % command_uuid.encode())
    assert_queued_once(server_engine, response_id, system_id, command_uuid)


def test_accepts_a_command_sent_in_chunks(live_server, server_engine, new_id):
    # Chunked transfer encoding has no Content-Length; HTTP/1.1 clients and proxies use it.
    system_id, response_id = new_id(), new_id()
    seed(server_engine, system_id, [response_id])
    command_uuid = str(uuid.uuid4())
    body = command_body(command_uuid, system_id, [response_id])

    reply = post(live_server, _in_chunks(body, 16))

    assert_reply(reply, 202, b'{"status":"accepted","meta":{},"uuid":"%s"}' % command_uuid.encode())
    assert_queued_once(server_engine, response_id, system_id, command_uuid)


# ---- malformed requests ---------------------------------------------------------------


def _over_the_limit() -> bytes:
    return padded(command_body(str(uuid.uuid4()), 43, [18]), MiB + 1)


MALFORMED = {
    "invalid JSON": ("POST", EXPORT_PATH, REQUEST_HEADERS, lambda: b'{"uuid": ', 400, "invalid_json"),
    "not JSON content": (
        "POST",
        EXPORT_PATH,
        {"Content-Type": "text/plain", **AUTHORIZATION},
        lambda: command_body(str(uuid.uuid4()), 43, [18]),
        415,
        "unsupported_media_type",
    ),
    "body of 1 MiB + 1 byte": ("POST", EXPORT_PATH, REQUEST_HEADERS, _over_the_limit, 413, "payload_too_large"),
    "body of 1 MiB + 1 byte, chunked": (
        "POST",
        EXPORT_PATH,
        REQUEST_HEADERS,
        lambda: _in_chunks(_over_the_limit()),
        413,
        "payload_too_large",
    ),
    "unknown route": (
        "POST",
        "/api/v2/exports/export_claims",
        REQUEST_HEADERS,
        lambda: command_body(str(uuid.uuid4()), 43, [18]),
        404,
        "not_found",
    ),
    "wrong method": (
        "GET",
        EXPORT_PATH,
        {"Accept": "application/json", **AUTHORIZATION},
        lambda: None,
        405,
        "method_not_allowed",
    ),
    "no credentials": (
        "POST",
        EXPORT_PATH,
        {"Content-Type": "application/json"},
        lambda: command_body(str(uuid.uuid4()), 43, [18]),
        401,
        "missing_credentials",
    ),
}


@pytest.mark.parametrize(
    ("method", "path", "headers", "make_body", "status", "code"), MALFORMED.values(), ids=MALFORMED.keys()
)
def test_refuses_a_malformed_request_with_the_error_envelope(
    live_server, server_engine, method, path, headers, make_body, status, code
):
    exports_before = rows_in(server_engine, exports)

    reply = requests.request(method, live_server.url(path), data=make_body(), headers=headers, timeout=REQUEST_TIMEOUT)

    assert reply.status_code == status, reply.text
    assert_contract_headers(reply)
    document = json.loads(reply.content)
    assert list(document) == ["status", "uuid", "errors"]
    assert (document["status"], document["uuid"]) == ("not_accepted", None)
    [error] = document["errors"]
    assert list(error) == ERROR_KEYS
    assert (error["status"], error["code"]) == (status, code)
    assert error["title"] == error["detail"] and error["detail"]
    assert error["source"].startswith("/")
    if status == 405:
        assert "POST" in reply.headers["Allow"]
    assert rows_in(server_engine, exports) == exports_before
    health = requests.get(live_server.url("/health"), timeout=REQUEST_TIMEOUT)
    assert (health.status_code, health.json()) == (200, {"status": "ok", "database": "ok"})


def test_the_metrics_of_every_gunicorn_process_add_up_at_any_scrape(live_server, server_engine):
    seed(server_engine, 143, [9001])
    before = scrape_metrics(live_server.url("/metrics"))
    reply = post(live_server, command_body(str(uuid.uuid4()), 143, [9001]))
    assert reply.status_code == 202, reply.text
    accepted = metrics.value(before, "export_responses_commands_total", outcome="accepted") or 0
    # Several scrapes, answered by either process: each sees the one command the other took.
    for _ in range(6):
        text = scrape_metrics(live_server.url("/metrics"))
        assert metrics.value(text, "export_responses_commands_total", outcome="accepted") == accepted + 1
        assert metrics.value(text, "export_responses_exports", external_system_id="143", state="queued") == 1
        assert metrics.value(text, "export_responses_queue_figures_up") == 1
    assert requests.get(live_server.url("/metrics"), timeout=REQUEST_TIMEOUT).status_code == 401


def scrape_metrics(url: str) -> str:
    reply = requests.get(url, headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.text
