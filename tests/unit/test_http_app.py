"""The Falcon adapter in-process, on the in-memory store: replies, headers, refusals."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import attrs
import falcon
import pytest

from adapters.memory import InMemoryStore
from adapters.memory.health import InMemoryHealth
from application.ports import StoreUnavailable
from domain.external_systems import ExternalSystem
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app
from entrypoints.http.middleware import SECURITY_HEADERS
from tests.auth import TEST_TOKEN, authenticated_client

UUID = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
SETTINGS = Settings(
    database_url="sqlite://", data_dir=Path("var"), api_tokens=(TEST_TOKEN,), max_body_bytes=1024 * 1024
)


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    store.response_ids.update({18, 19, 20})
    return store


@pytest.fixture
def client(store):
    return authenticated_client(create_app(bootstrap(SETTINGS, store=store)))


def body(uuid=UUID, system_id=43, ids=(18,), **extra) -> bytes:
    document = {
        "uuid": uuid,
        "command": "ExportResponses",
        "data": {"external_system_id": system_id, "response_ids": ids if ids is None else list(ids)},
    }
    return json.dumps({**document, **extra}).encode()


def post(client, content: bytes, headers=JSON_HEADERS, path=EXPORT_RESPONSES_PATH):
    return client.simulate_post(path, body=content, headers=headers)


def test_the_documented_acceptance_byte_for_byte(client):
    reply = post(client, body(**{"async": False}))
    assert reply.status_code == 202
    assert reply.content == b'{"status":"accepted","meta":{},"uuid":"fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"}'


def test_every_reply_carries_the_contract_headers(client):
    for reply in (post(client, body()), post(client, b"{"), client.simulate_get("/nowhere")):
        assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers[name] == value
        assert re.fullmatch(r"[0-9a-f-]{36}", reply.headers["X-Request-Id"])
        assert re.fullmatch(r"\d+\.\d{6}", reply.headers["X-Runtime"])
    ids = {post(client, b"{").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_replay_has_the_same_status_bytes_and_type(client):
    first, again = post(client, body()), post(client, body())
    assert (again.status_code, again.content, again.headers["Content-Type"]) == (
        first.status_code,
        first.content,
        first.headers["Content-Type"],
    )


def test_reusing_a_uuid_for_other_data_is_a_409_in_the_envelope(client, store):
    post(client, body(ids=(18,)))
    reply = post(client, body(ids=(19,)))
    assert reply.status_code == 409
    assert reply.json["errors"][0]["code"] == "uuid_conflict"
    assert reply.json["errors"][0]["source"] == "/uuid"
    assert len(store.exports) == 1


def error_of(reply) -> dict:
    document = reply.json
    assert document["status"] == "not_accepted"
    assert set(document) == {"status", "uuid", "errors"}
    for error in document["errors"]:
        assert list(error) == ["status", "code", "title", "detail", "source", "command", "uuid"]
        assert error["source"].startswith("/")
    return document["errors"][0]


@pytest.mark.parametrize(
    "content, code, source",
    [
        (b"{", "invalid_json", "/"),
        (b"[" * 50_000, "invalid_json", "/"),
        (b'{"uuid": NaN}', "invalid_json", "/"),
        (b"\xff\xfe", "invalid_json", "/"),
        (b"[]", "invalid_body", "/"),
        (b"null", "invalid_body", "/"),
        (b'{"command":"ExportResponses","data":{"external_system_id":1,"response_ids":[1]}}', "missing_field", "/uuid"),
        (body(uuid="not-a-uuid"), "invalid_uuid", "/uuid"),
        (body(uuid=5), "invalid_type", "/uuid"),
        (json.dumps({"uuid": UUID, "command": "ExportResponses"}).encode(), "missing_field", "/data"),
        (json.dumps({"uuid": UUID, "command": "ExportResponses", "data": "x"}).encode(), "invalid_type", "/data"),
        (
            json.dumps({"uuid": UUID, "command": "ExportResponses", "data": {"external_system_id": 1}}).encode(),
            "missing_field",
            "/response_ids",
        ),
        (body(ids=None), "invalid_type", "/response_ids"),
        (
            json.dumps(
                {"uuid": UUID, "command": "ExportResponses", "data": {"external_system_id": 1, "response_ids": "12"}}
            ).encode(),
            "invalid_type",
            "/response_ids",
        ),
        (
            json.dumps(
                {"uuid": UUID, "command": "ExportResponses", "data": {"external_system_id": 1, "response_ids": 12}}
            ).encode(),
            "invalid_type",
            "/response_ids",
        ),
        (body(ids=()), "empty_list", "/response_ids"),
        (body(ids=(1, "2")), "invalid_type", "/response_ids/1"),
        (body(ids=(1, 2.5)), "invalid_type", "/response_ids/1"),
        (body(ids=(True,)), "invalid_type", "/response_ids/0"),
        (body(ids=(2**63,)), "integer_out_of_range", "/response_ids/0"),
        (body(system_id="43"), "invalid_type", "/external_system_id"),
        (body(system_id=-(2**63) - 1), "integer_out_of_range", "/external_system_id"),
        (body(command="DeleteEverything"), "unknown_command", "/command"),
    ],
)
def test_malformed_commands_are_400s_that_say_what_and_where(client, store, content, code, source):
    reply = post(client, content)
    assert reply.status_code == 400
    error = error_of(reply)
    assert (error["code"], error["source"]) == (code, source)
    assert error["detail"]
    assert store.exports == {} and store.commands == {}


def test_all_problems_of_a_command_are_reported_at_once(client):
    reply = post(client, body(uuid="nope", system_id=None, ids=(1, "x", None)))
    assert [(e["code"], e["source"]) for e in reply.json["errors"]] == [
        ("invalid_uuid", "/uuid"),
        ("invalid_type", "/external_system_id"),
        ("invalid_type", "/response_ids/1"),
        ("invalid_type", "/response_ids/2"),
    ]


def test_the_uuid_is_echoed_in_errors_once_it_is_valid(client):
    error = error_of(post(client, body(ids=())))
    assert (error["uuid"], error["command"]) == (UUID, "ExportResponses")


def test_more_ids_than_the_limit_is_its_own_400(store):
    client = authenticated_client(
        create_app(
            bootstrap(
                store=store, settings=Settings("sqlite://", Path("var"), max_response_ids=3, api_tokens=(TEST_TOKEN,))
            )
        )
    )
    reply = post(client, body(ids=(18, 19, 20, 21)))
    assert reply.status_code == 400
    assert error_of(reply)["code"] == "too_many_response_ids"


@pytest.mark.parametrize(
    "headers, content, status, code",
    [
        ({"Content-Type": "text/plain"}, body(), 415, "unsupported_media_type"),
        ({}, body(), 415, "unsupported_media_type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=1", 415, "unsupported_media_type"),
        (JSON_HEADERS, b" " * (1024 * 1024 + 1), 413, "payload_too_large"),
    ],
)
def test_requests_that_are_not_json_commands_are_refused(client, headers, content, status, code):
    reply = post(client, content, headers=headers)
    assert reply.status_code == status
    assert error_of(reply)["code"] == code


def test_a_json_content_type_with_charset_is_accepted(client):
    assert post(client, body(), headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 202


def test_unknown_routes_and_methods_are_404_and_405_in_the_envelope(client):
    missing = client.simulate_get("/api/v2/exports/nothing")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong = client.simulate_get(EXPORT_RESPONSES_PATH)
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_a_trailing_slash_reaches_the_same_endpoint(client):
    assert post(client, body(), path=EXPORT_RESPONSES_PATH + "/").status_code == 202


def services_raising(error: Exception) -> Services:
    def fail(command, received):
        raise error

    return attrs.evolve(
        bootstrap(SETTINGS, store=InMemoryStore()), handle_export_responses=fail, health=InMemoryHealth(healthy=False)
    )


def test_an_unavailable_database_is_a_503_with_retry_after():
    client = authenticated_client(create_app(services_raising(StoreUnavailable("connection refused"))))
    reply = post(client, body())
    assert reply.status_code == 503
    assert reply.headers["Retry-After"].isdigit()
    assert error_of(reply)["code"] == "service_unavailable"


def test_a_bug_is_a_500_in_the_envelope_without_a_traceback(caplog):
    client = authenticated_client(create_app(services_raising(ZeroDivisionError("secret detail"))))
    with caplog.at_level(logging.ERROR):
        reply = post(client, body())
    assert reply.status_code == 500
    error = error_of(reply)
    assert error["code"] == "internal_error"
    assert reply.headers["X-Request-Id"] in error["detail"]
    assert b"Traceback" not in reply.content and b"secret detail" not in reply.content
    assert "ZeroDivisionError" in caplog.text  # the log keeps what the reply withholds


@pytest.mark.parametrize(
    "error, status, code",
    [
        (falcon.HTTPNotAcceptable(description="Only JSON"), 400, "bad_request"),
        (falcon.HTTPServiceUnavailable(), 500, "internal_error"),
    ],
)
def test_a_falcon_error_no_code_names_is_a_declared_code_not_a_stray_one(error, status, code):
    # A client's refusal stays a 4xx, a server's fault a 500; neither is sent with a code
    # the catalogue does not declare.
    reply = post(authenticated_client(create_app(services_raising(error))), body())
    assert (reply.status_code, error_of(reply)["code"]) == (status, code)


def test_health_reports_whether_the_database_answers(client):
    assert (client.simulate_get("/health").status_code, client.simulate_get("/health").json["database"]) == (200, "ok")
    down = authenticated_client(create_app(services_raising(StoreUnavailable("down")))).simulate_get("/health")
    assert down.status_code == 503
    assert down.json["database"] == "unavailable" and down.json["errors"][0]["code"] == "service_unavailable"


def test_one_log_line_per_request_without_personal_data(client, caplog):
    with caplog.at_level(logging.INFO, logger="export_responses.access"):
        reply = post(client, body(ids=(18,)))
    (record,) = [r for r in caplog.records if r.name == "export_responses.access"]
    line = json.loads(record.getMessage())
    assert line == {
        "method": "POST",
        "path": EXPORT_RESPONSES_PATH,
        "status": 202,
        "request_id": reply.headers["X-Request-Id"],
        "runtime": line["runtime"],
        "command_uuid": UUID,
    }
    assert isinstance(line["runtime"], float)


def test_a_uuid_followed_by_a_newline_is_not_a_uuid(client, store):
    reply = post(client, body(uuid=UUID + "\n"))
    assert reply.status_code == 400 and error_of(reply)["code"] == "invalid_uuid"
    assert store.commands == {}


def test_a_lone_surrogate_echoed_in_an_error_is_escaped_not_a_500(client):
    reply = post(
        client,
        b'{"uuid":"' + UUID.encode() + b'","command":"\\ud800","data":{"external_system_id":43,"response_ids":[18]}}',
    )
    assert reply.status_code == 400
    assert error_of(reply)["command"] == "\ud800"
    assert b"\\ud800" in reply.content
