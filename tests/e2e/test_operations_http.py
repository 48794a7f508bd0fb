"""The operators' routes over real HTTP (gunicorn, two workers) on SQLite, PostgreSQL and PgBouncer."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
import sqlalchemy as sa

from adapters.sql.tables import exports
from tests.auth import AUTHORIZATION
from tests.builders import add_external_system, add_responses
from tests.concurrency import run_together
from tests.e2e.conftest import REQUEST_TIMEOUT

pytestmark = pytest.mark.e2e

HEADERS = {"Content-Type": "application/json", **AUTHORIZATION}


def call(server, method: str, path: str, body=None) -> requests.Response:
    data = None if body is None else json.dumps(body)
    return requests.request(method, server.url(path), data=data, headers=HEADERS, timeout=REQUEST_TIMEOUT)


def queue(server, engine, system_id: int, response_ids: list[int]) -> tuple[str, list[int]]:
    """A system, its responses and an accepted command exporting them: the command's uuid and export ids."""
    with engine.begin() as connection:
        add_external_system(connection, system_id)
        add_responses(connection, response_ids)
    command = str(uuid.uuid4())
    data = {"external_system_id": system_id, "response_ids": response_ids}
    reply = call(
        server,
        "POST",
        "/api/v2/exports/export_responses",
        {"uuid": command, "command": "ExportResponses", "data": data},
    )
    assert reply.status_code == 202, reply.text
    found = call(server, "GET", f"/api/v2/exports?command_uuid={command}").json()["exports"]
    return command, sorted(export["id"] for export in found)


def set_state(engine, export_ids: list[int], state: str, **values) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(exports).where(exports.c.id.in_(export_ids)).values(state=state, **values))


def test_retry_and_cancel_over_http_and_two_operators_retrying_at_once(live_server, server_engine, new_id):
    system_id = new_id()
    _, (first, second, third) = queue(live_server, server_engine, system_id, [new_id(), new_id(), new_id()])
    set_state(server_engine, [first, second], "failed", attempts=9)

    retried = call(live_server, "POST", f"/api/v2/exports/{first}/retry")
    assert (retried.status_code, retried.json()["state"], retried.json()["attempts"]) == (200, "queued", 0)
    assert retried.json() == call(live_server, "GET", f"/api/v2/exports/{first}").json()

    racing = run_together(4, lambda: call(live_server, "POST", f"/api/v2/exports/{second}/retry"))
    assert sorted(reply.status_code for reply in racing) == [200, 409, 409, 409]
    events = call(live_server, "GET", f"/api/v2/exports/{second}").json()["events"]
    assert [event["message"] for event in events] == ["Queued for export", "Queued again by an operator"]

    cancelled = call(live_server, "POST", f"/api/v2/exports/{third}/cancel")
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "failed")
    again = call(live_server, "POST", f"/api/v2/exports/{third}/cancel")
    assert (again.status_code, again.json()["errors"][0]["code"]) == (409, "export_not_cancellable")


def test_bulk_retry_pause_resume_and_the_systems_list_over_http(live_server, server_engine, new_id):
    system_id = new_id()
    command, export_ids = queue(live_server, server_engine, system_id, [new_id() for _ in range(5)])
    set_state(server_engine, export_ids[:4], "failed")
    set_state(server_engine, export_ids[4:], "erroring")

    reply = call(live_server, "POST", "/api/v2/exports/retry", {"command_uuid": command, "state": "failed"})
    assert (reply.status_code, reply.json()) == (200, {"retried": 4})
    bad = call(live_server, "POST", "/api/v2/exports/retry", {"command": command})
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (400, "unknown_field")

    paused = call(live_server, "POST", f"/api/v2/external_systems/{system_id}/pause")
    assert (paused.status_code, paused.json()["paused"], paused.json()["paused_by"]) == (200, True, "api")
    [listed] = [
        s
        for s in call(live_server, "GET", "/api/v2/external_systems").json()["external_systems"]
        if s["id"] == system_id
    ]
    assert listed == paused.json()
    assert listed["exports"] == {"queued": 4, "in_progress": 0, "erroring": 1, "complete": 0, "failed": 0}

    resumed = call(live_server, "POST", f"/api/v2/external_systems/{system_id}/resume")
    assert (resumed.status_code, resumed.json()["paused"]) == (200, False)
    missing = call(live_server, "POST", f"/api/v2/external_systems/{new_id()}/pause")
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (404, "system_not_found")


def test_an_export_of_the_et_api_is_shown_but_refused(live_server, server_engine, new_id):
    system_id = new_id()
    with server_engine.begin() as connection:
        add_external_system(connection, system_id)
        export_id = connection.execute(
            sa.insert(exports)
            .values(
                resource_type="Response",
                resource_id=new_id(),
                external_system_id=system_id,
                state="failed",
                external_data={},
                percent_complete=0,
                created_at=sa.func.now(),
                updated_at=sa.func.now(),
            )
            .returning(exports.c.id)
        ).scalar_one()

    for action in ("retry", "cancel"):
        reply = call(live_server, "POST", f"/api/v2/exports/{export_id}/{action}")
        assert (reply.status_code, reply.json()["errors"][0]["code"]) == (409, "export_owned_by_et_api")
    assert call(live_server, "GET", f"/api/v2/exports/{export_id}").json()["state"] == "failed"
