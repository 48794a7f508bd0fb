"""The operators' routes in-process on the in-memory store: replies as agreed, refusals, the document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from falcon import testing

from adapters.memory import InMemoryStore, Work
from adapters.memory.throttles import InMemorySystemThrottles
from domain.exports import Export, ExportEvent, ExportState
from domain.external_systems import ExternalSystem
from domain.throttling import Throttle
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import create_app
from entrypoints.http.openapi import OPENAPI_PATH
from tests.auth import TEST_TOKEN
from tests.unit.test_openapi import assert_operation_documents

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
COMMAND = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
NAMED_TOKEN = "named-token-0a1b2c3d4e5f"
SETTINGS = Settings(
    database_url="sqlite://", data_dir=Path("var"), api_tokens=(TEST_TOKEN, f"admin={NAMED_TOKEN}"), max_body_bytes=1024
)
JSON_HEADERS = {"Content-Type": "application/json"}
RETRY, CANCEL = "/api/v2/exports/{export_id}/retry", "/api/v2/exports/{export_id}/cancel"
BULK, SYSTEMS = "/api/v2/exports/retry", "/api/v2/external_systems"
PAUSE, RESUME = "/api/v2/external_systems/{system_id}/pause", "/api/v2/external_systems/{system_id}/resume"


def put(store, export_id: int, state: ExportState, command: str | None = COMMAND, system_id: int = 43) -> None:
    store.exports[export_id] = Export(
        resource_type="Response",
        resource_id=100 + export_id,
        external_system_id=system_id,
        state=state,
        percent_complete=0,
        message="Response erroring" if state is ExportState.ERRORING else None,
        command_uuid=command,
        created_at=T0,
        external_data={"error": {"message": "CCD answered 503"}} if state is ExportState.ERRORING else {},
        id=export_id,
        events=[ExportEvent(f"00000000-0000-4000-8000-{export_id:012d}", ExportState.QUEUED, 0, "Queued for export")],
    )
    store.work[export_id] = Work(attempts=2, next_attempt_at=T0)


@pytest.fixture
def store():
    store = InMemoryStore()
    store.external_systems[43] = ExternalSystem(43, "CCD Manchester", "ccd_manchester", export_responses=True)
    store.external_systems[44] = ExternalSystem(44, "CCD Glasgow", "ccd_glasgow", export_responses=True)
    put(store, 1, ExportState.FAILED)
    put(store, 2, ExportState.ERRORING)
    put(store, 3, ExportState.IN_PROGRESS)
    put(store, 4, ExportState.COMPLETE)
    put(store, 5, ExportState.FAILED, command=None)
    put(store, 6, ExportState.QUEUED, system_id=44)
    return store


@pytest.fixture
def app(store):
    return create_app(bootstrap(SETTINGS, store=store))


def client_with(app, token: str) -> testing.TestClient:
    return testing.TestClient(app, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def client(app):
    return client_with(app, TEST_TOKEN)


@pytest.fixture
def document(client) -> dict:
    return client.simulate_get(OPENAPI_PATH).json


def post(client, template: str, export_id=None, system_id=None, **kwargs) -> testing.Result:
    return client.simulate_post(template.format(export_id=export_id, system_id=system_id), **kwargs)


def codes(reply) -> list[str]:
    return [error["code"] for error in reply.json["errors"]]


def test_a_retry_answers_the_export_as_get_shows_it_and_records_the_tokens_name(app, client, document):
    reply = post(client_with(app, NAMED_TOKEN), RETRY, export_id=1)

    assert reply.status_code == 200, reply.text
    assert reply.json == client.simulate_get("/api/v2/exports/1").json
    assert (reply.json["state"], reply.json["attempts"]) == ("queued", 0)
    assert reply.json["events"][-1]["data"]["export_responses"] == {"action": "retry", "by": "admin"}
    assert_operation_documents(document, reply, "POST", RETRY)


def test_an_unnamed_token_acts_as_api(client):
    reply = post(client, CANCEL, export_id=2)
    assert reply.status_code == 200
    assert reply.json["state"] == "failed"
    assert reply.json["events"][-1]["data"]["export_responses"] == {"action": "cancel", "by": "api"}


def test_a_cancel_of_an_export_in_progress_is_a_202_with_it_still_in_progress(client, document):
    reply = post(client, CANCEL, export_id=3)
    assert (reply.status_code, reply.json["state"]) == (202, "in_progress")
    assert_operation_documents(document, reply, "POST", CANCEL)


@pytest.mark.parametrize(
    "template, export_id, code",
    [
        (RETRY, 4, "export_not_retryable"),
        (RETRY, 5, "export_owned_by_et_api"),
        (CANCEL, 4, "export_not_cancellable"),
        (CANCEL, 5, "export_owned_by_et_api"),
    ],
)
def test_what_the_state_or_owner_forbids_is_a_409_in_the_envelope(client, document, store, template, export_id, code):
    before = store.exports[export_id]
    reply = post(client, template, export_id=export_id)
    assert (reply.status_code, codes(reply)) == (409, [code])
    assert reply.json["errors"][0]["status"] == 409
    assert store.exports[export_id] == before
    assert_operation_documents(document, reply, "POST", template)


@pytest.mark.parametrize("template", [RETRY, CANCEL])
@pytest.mark.parametrize(
    "export_id, code", [(99, "export_not_found"), (2**70, "export_not_found"), ("x1", "not_found")]
)
def test_an_export_that_cannot_exist_is_a_404(client, document, template, export_id, code):
    reply = post(client, template, export_id=export_id)
    assert (reply.status_code, codes(reply)) == (404, [code])
    assert_operation_documents(document, reply, "POST", template)


def test_a_bulk_retry_answers_how_many_it_queued(client, document, store):
    reply = post(client, BULK, json={"external_system_id": 43, "state": "failed"})
    assert (reply.status_code, reply.json) == (200, {"retried": 1})
    assert store.exports[1].state is ExportState.QUEUED and store.exports[2].state is ExportState.ERRORING
    assert post(client, BULK, json={}).json == {"retried": 1}  # export 2, erroring
    assert_operation_documents(document, reply, "POST", BULK)


@pytest.mark.parametrize(
    "body, status, expected",
    [
        (b'{"state": ', 400, ["invalid_json"]),
        (b"[]", 400, ["invalid_body"]),
        (b'{"system": 43}', 400, ["unknown_field"]),
        (b'{"state": "queued"}', 400, ["invalid_state"]),
        (b'{"state": null}', 400, ["invalid_type"]),
        (b'{"external_system_id": "43", "command_uuid": "nope"}', 400, ["invalid_type", "invalid_uuid"]),
        (b'{"external_system_id": 9223372036854775808}', 400, ["integer_out_of_range"]),
        (b" " * 1025, 413, ["payload_too_large"]),
    ],
)
def test_a_bad_bulk_body_is_a_4xx_in_the_envelope_and_retries_nothing(client, document, store, body, status, expected):
    reply = post(client, BULK, body=body, headers=JSON_HEADERS)
    assert (reply.status_code, codes(reply)) == (status, expected), reply.text
    assert store.exports[1].state is ExportState.FAILED
    assert_operation_documents(document, reply, "POST", BULK)


def test_a_bulk_body_that_is_not_json_is_a_415(client, document):
    reply = post(client, BULK, body=b"state=failed", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (reply.status_code, codes(reply)) == (415, ["unsupported_media_type"])
    assert_operation_documents(document, reply, "POST", BULK)


def test_the_systems_list_has_each_system_with_its_pause_circuit_and_counts(client, document):
    reply = client.simulate_get(SYSTEMS)
    assert reply.status_code == 200
    assert [system["id"] for system in reply.json["external_systems"]] == [43, 44]
    assert reply.json["external_systems"][0] == {
        "id": 43,
        "name": "CCD Manchester",
        "reference": "ccd_manchester",
        "paused": False,
        "paused_at": None,
        "paused_by": None,
        "circuit": {
            "state": "closed",
            "consecutive_failures": 0,
            "opened_at": None,
            "next_probe_at": None,
            "last_failure": None,
        },
        "throttle": {"paused_until": None, "calls_per_second": None, "rate_limited_at": None},
        "exports": {"queued": 0, "in_progress": 1, "erroring": 1, "complete": 1, "failed": 2},
    }
    assert_operation_documents(document, reply, "GET", SYSTEMS)


def test_a_throttled_system_shows_its_pause_and_pace(client, document, store):
    cut = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    throttle = Throttle(until=cut + timedelta(seconds=2), rate=37.5, cut_at=cut, next_call_at=cut)
    InMemorySystemThrottles(store).save(44, throttle, cut)
    reply = client.simulate_get(SYSTEMS)
    assert reply.json["external_systems"][1]["throttle"] == {
        "paused_until": "2026-01-01T09:30:02.000000Z",
        "calls_per_second": 37.5,
        "rate_limited_at": "2026-01-01T09:30:00.000000Z",
    }
    assert_operation_documents(document, reply, "GET", SYSTEMS)


def test_pause_and_resume_answer_the_system(app, client, document):
    paused = post(client_with(app, NAMED_TOKEN), PAUSE, system_id=44)
    assert (paused.status_code, paused.json["paused"], paused.json["paused_by"]) == (200, True, "admin")
    assert paused.json == client.simulate_get(SYSTEMS).json["external_systems"][1]
    assert_operation_documents(document, paused, "POST", PAUSE)
    resumed = post(client, RESUME, system_id=44)
    assert (resumed.status_code, resumed.json["paused"], resumed.json["paused_at"]) == (200, False, None)
    assert_operation_documents(document, resumed, "POST", RESUME)


@pytest.mark.parametrize("template", [PAUSE, RESUME])
@pytest.mark.parametrize("system_id, code", [(9, "system_not_found"), (-(2**64), "system_not_found")])
def test_an_unknown_system_is_a_404(client, document, store, template, system_id, code):
    reply = post(client, template, system_id=system_id)
    assert (reply.status_code, codes(reply)) == (404, [code])
    assert reply.json["errors"][0]["source"] == "/system_id"
    assert store.system_controls == {}
    assert_operation_documents(document, reply, "POST", template)


def test_every_operators_route_needs_a_token(app):
    anonymous = testing.TestClient(app)
    for path in ("/api/v2/exports/1/retry", "/api/v2/exports/1/cancel", BULK, "/api/v2/external_systems/43/pause"):
        reply = anonymous.simulate_post(path, body=json.dumps({}), headers=JSON_HEADERS)
        assert (reply.status_code, codes(reply)) == (401, ["missing_credentials"]), path
    assert anonymous.simulate_get(SYSTEMS).status_code == 401
