"""Reading exports over HTTP, on the in-memory store: bodies, key order, refusals, pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.memory import InMemoryStore, Work
from domain.exports import Export, ExportEvent, ExportState
from domain.external_systems import Configuration, ExternalSystem
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import create_app
from entrypoints.http.middleware import SECURITY_HEADERS
from tests.auth import TEST_TOKEN, authenticated_client

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
COMMAND_A = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
COMMAND_B = "bb86cdc9-9900-4cec-82a3-1355649c00d7"
SETTINGS = Settings(database_url="sqlite://", data_dir=Path("var"), api_tokens=(TEST_TOKEN,))
EXPORT_KEYS = [
    "id",
    "state",
    "percent_complete",
    "message",
    "external_data",
    "resource_type",
    "response_id",
    "external_system_id",
    "command_uuid",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
]


def export(export_id: int, response_id: int = 18, state=ExportState.QUEUED, command=COMMAND_A, **changes) -> Export:
    fields = dict(
        resource_type="Response",
        resource_id=response_id,
        external_system_id=changes.pop("system", 43),
        state=state,
        percent_complete=0,
        message="Queued for export",
        command_uuid=command,
        created_at=T0 + timedelta(minutes=export_id),
        id=export_id,
    )
    return Export(**{**fields, **changes})


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    return store


@pytest.fixture
def client(store):
    return authenticated_client(create_app(bootstrap(SETTINGS, store=store)))


def test_one_export_with_its_events_byte_for_byte(client, store):
    store.exports[7] = export(
        7,
        state=ExportState.COMPLETE,
        percent_complete=100,
        message="Response exported",
        external_data={"case_id": 1234, "office": None},
        events=[
            ExportEvent("00000000-0000-4000-8000-000000000001", ExportState.QUEUED, 0, "Queued for export"),
            ExportEvent(
                "00000000-0000-4000-8000-000000000002",
                ExportState.ERRORING,
                None,
                "Response erroring",
                {"error": {"message": "timeout"}},
            ),
        ],
    )
    store.work[7] = Work(attempts=2, next_attempt_at=T0 + timedelta(hours=1, microseconds=-123456))
    reply = client.simulate_get("/api/v2/exports/7")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert all(reply.headers[name] == value for name, value in SECURITY_HEADERS.items())
    assert reply.text == (
        '{"id":7,"state":"complete","percent_complete":100,"message":"Response exported",'
        '"external_data":{"case_id":1234,"office":null},"resource_type":"Response","response_id":18,'
        f'"external_system_id":43,"command_uuid":"{COMMAND_A}","attempts":2,'
        '"next_attempt_at":"2026-01-01T13:00:00.000000Z","created_at":"2026-01-01T12:07:00.123456Z",'
        '"updated_at":"2026-01-01T12:07:00.123456Z","events":['
        '{"uuid":"00000000-0000-4000-8000-000000000001","state":"queued","percent_complete":0,'
        '"message":"Queued for export","data":{},"created_at":"2026-01-01T12:07:00.123456Z"},'
        '{"uuid":"00000000-0000-4000-8000-000000000002","state":"erroring","percent_complete":null,'
        '"message":"Response erroring","data":{"error":{"message":"timeout"}},'
        '"created_at":"2026-01-01T12:07:00.123456Z"}]}'
    )
    assert list(reply.json) == [*EXPORT_KEYS, "events"]


def error_of(reply) -> dict:
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    document = reply.json
    assert list(document) == ["status", "uuid", "errors"]
    assert (document["status"], document["uuid"]) == ("not_accepted", None)
    for error in document["errors"]:
        assert list(error) == ["status", "code", "title", "detail", "source", "command", "uuid"]
        assert error["title"] == error["detail"] and (error["command"], error["uuid"]) == (None, None)
    return document["errors"]


@pytest.mark.parametrize("export_id", ["99", "0", "-1", str(2**63)])
def test_an_unknown_export_is_a_404_in_the_envelope(client, store, export_id):
    store.exports[1] = export(1)
    reply = client.simulate_get(f"/api/v2/exports/{export_id}")
    assert reply.status_code == 404
    [error] = error_of(reply)
    assert (error["status"], error["code"], error["source"]) == (404, "export_not_found", "/export_id")
    assert error["detail"] == f"The export with an id of {int(export_id)} was not found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/exports/abc",
        "/api/v2/exports/1.5",
        "/api/v2/exports/1/events",
        "/api/v2/exports/1_0",
        "/api/v2/exports/+1",
        "/api/v2/exports/%D9%A1",
        "/api/v2/exports/%201",
        "/api/v2/exports/1%0A",
    ],
)
def test_a_path_that_is_no_export_id_is_a_plain_404(client, path):
    reply = client.simulate_get(path)
    assert reply.status_code == 404
    assert error_of(reply)[0]["code"] == "not_found"


def test_the_command_endpoint_keeps_its_path(client):
    reply = client.simulate_get("/api/v2/exports/export_responses")
    assert reply.status_code == 405
    assert error_of(reply)[0]["code"] == "method_not_allowed"


@pytest.fixture
def listed(store):
    store.exports.update(
        {
            1: export(1, response_id=18, state=ExportState.COMPLETE),
            2: export(2, response_id=18, state=ExportState.QUEUED, system=44),
            3: export(3, response_id=19, state=ExportState.FAILED, command=COMMAND_B),
            4: export(
                4,
                response_id=18,
                state=ExportState.QUEUED,
                command=COMMAND_B,
                events=[ExportEvent("00000000-0000-4000-8000-000000000004", ExportState.QUEUED, 0, "Queued")],
            ),
        }
    )
    return store


def ids(reply) -> list[int]:
    assert reply.status_code == 200, reply.text
    return [found["id"] for found in reply.json["exports"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", [4, 3, 2, 1]),
        ("response_id=18", [4, 2, 1]),
        ("external_system_id=44", [2]),
        ("state=queued", [4, 2]),
        (f"command_uuid={COMMAND_B}", [4, 3]),
        (f"command_uuid={COMMAND_B.upper()}", [4, 3]),
        (f"response_id=18&state=queued&command_uuid={COMMAND_B}", [4]),
        ("response_id=18&state=failed", []),
        ("unknown=1", [4, 3, 2, 1]),
    ],
)
def test_the_list_filters_newest_first(client, listed, query, expected):
    assert ids(client.simulate_get("/api/v2/exports", query_string=query)) == expected


def test_listed_exports_have_the_export_keys_in_order_without_events(client, listed):
    reply = client.simulate_get("/api/v2/exports", query_string="response_id=18&state=queued&per_page=1")
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert list(reply.json) == ["exports", "meta"]
    assert reply.json["meta"] == {"page": 1, "per_page": 1, "total": 2}
    [first] = reply.json["exports"]
    assert list(first) == EXPORT_KEYS
    assert (first["id"], first["command_uuid"], first["created_at"]) == (4, COMMAND_B, "2026-01-01T12:04:00.123456Z")
    assert reply.text.startswith('{"exports":[{"id":4,"state":"queued",')


def test_pages_walk_the_list_and_say_where_they_are(client, store):
    store.exports.update({i: export(i, response_id=i) for i in range(1, 121)})
    first = client.simulate_get("/api/v2/exports")
    assert len(first.json["exports"]) == 50 and first.json["meta"] == {"page": 1, "per_page": 50, "total": 120}
    third = client.simulate_get("/api/v2/exports", query_string="page=3")
    assert ids(third) == list(range(20, 0, -1))
    assert third.json["meta"] == {"page": 3, "per_page": 50, "total": 120}
    beyond = client.simulate_get("/api/v2/exports", query_string="page=9&per_page=500")
    assert (beyond.json["exports"], beyond.json["meta"]) == ([], {"page": 9, "per_page": 500, "total": 120})
    assert len(client.simulate_get("/api/v2/exports", query_string="per_page=500").json["exports"]) == 120


@pytest.mark.parametrize(
    "query, source, detail",
    [
        ("response_id=abc", "/response_id", "response_id must be an integer, not 'abc'"),
        ("response_id=1.5", "/response_id", "response_id must be an integer, not '1.5'"),
        ("response_id=", "/response_id", "response_id must be an integer, not ''"),
        ("response_id=%EF%BC%95", "/response_id", "response_id must be an integer, not '５'"),
        (f"response_id={2**63}", "/response_id", "response_id must be an integer from -2^63 to 2^63-1"),
        (
            f"external_system_id={-(2**63) - 1}",
            "/external_system_id",
            "external_system_id must be an integer from -2^63 to 2^63-1",
        ),
        ("external_system_id=1&external_system_id=2", "/external_system_id", "external_system_id must be given once"),
        (
            "state=done",
            "/state",
            "state must be one of created, queued, in_progress, erroring, complete, failed, not 'done'",
        ),
        (
            "command_uuid=not-a-uuid",
            "/command_uuid",
            "command_uuid must be a UUID such as fea4decf-2efe-4cd6-96b3-f0a4bbeeca78",
        ),
        ("page=0", "/page", "page must be at least 1, not 0"),
        ("page=-3", "/page", "page must be at least 1, not -3"),
        (f"page={2**63}", "/page", "page must be an integer from -2^63 to 2^63-1"),
        ("page=x", "/page", "page must be an integer, not 'x'"),
        ("per_page=0", "/per_page", "per_page must be from 1 to 500, not 0"),
        ("per_page=501", "/per_page", "per_page must be from 1 to 500, not 501"),
        ("per_page=ten", "/per_page", "per_page must be an integer, not 'ten'"),
        ("page=1%0A", "/page", "page must be an integer, not '1\\n'"),
        ("response_id=1_0", "/response_id", "response_id must be an integer, not '1_0'"),
        ("response_id=%D9%A1", "/response_id", "response_id must be an integer, not '\u0661'"),
    ],
)
def test_a_bad_query_parameter_is_a_400_that_names_it(client, listed, query, source, detail):
    reply = client.simulate_get("/api/v2/exports", query_string=query)
    assert reply.status_code == 400
    [error] = error_of(reply)
    assert (error["status"], error["code"], error["source"], error["detail"]) == (
        422,
        "invalid_query_parameter",
        source,
        detail,
    )


def test_every_bad_query_parameter_is_reported_at_once(client):
    query = "response_id=x&external_system_id=y&state=z&command_uuid=w&page=0&per_page=1000"
    reply = client.simulate_get("/api/v2/exports", query_string=query)
    assert reply.status_code == 400
    assert [error["source"] for error in error_of(reply)] == [
        "/response_id",
        "/external_system_id",
        "/state",
        "/command_uuid",
        "/page",
        "/per_page",
    ]


def test_no_secret_of_an_external_system_reaches_a_reply(client, listed):
    secret = Configuration("sidam_password", "hunter2-secret", can_read=False)
    listed.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", configurations=[secret])
    for reply in (client.simulate_get("/api/v2/exports/1"), client.simulate_get("/api/v2/exports")):
        assert reply.status_code == 200
        assert "hunter2-secret" not in reply.text and "sidam_password" not in reply.text
