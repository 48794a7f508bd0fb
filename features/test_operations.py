"""Binds operations.feature: the operators' routes in process (or against BDD_BASE_URL), the worker here.

The operator is a named API token (in live mode BDD_API_TOKEN, named BDD_API_TOKEN_NAME,
"api" if unnamed): the events an action writes must name it.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pytest_bdd import given, parsers, scenarios, then, when

from adapters.ccd.fake_server import FakeCcd
from adapters.sql import tables
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import create_app
from features.conftest import step_text
from features.support import database as db
from features.support import pipeline
from features.support.client import InProcessClient, LiveClient, Reply

scenarios("operations.feature")

OPERATOR_TOKEN = "operator-token-7d3c9b1a5e2f"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
ACTIONS = {"retries": "retry", "cancels": "cancel"}


@pytest.fixture
def operator(live_base_url, bdd_database_url, tmp_path):
    """(the client an operator acts with, the name the events must give)."""
    if live_base_url is not None:
        live = LiveClient(live_base_url, {"Authorization": f"Bearer {os.environ['BDD_API_TOKEN']}"})
        yield live, os.environ.get("BDD_API_TOKEN_NAME") or "api"
        live.close()
        return
    settings = Settings(database_url=bdd_database_url, data_dir=tmp_path, api_tokens=(f"ops={OPERATOR_TOKEN}",))
    services = bootstrap(settings)
    yield InProcessClient(create_app(services), {"Authorization": f"Bearer {OPERATOR_TOKEN}"}), "ops"
    services.close()


@pytest.fixture
def replies() -> list[Reply]:
    return []


@pytest.fixture
def fake_ccd():
    with FakeCcd() as fake:
        yield fake


@pytest.fixture
def worker_deps(scenario_settings, fake_ccd):
    """What `export-responses worker` composes, with its gateway on the scenario's fake CCD."""
    gateway = pipeline.gateway_for(fake_ccd)
    services = bootstrap(scenario_settings, ccd=gateway)
    yield services.export_work
    services.close()
    gateway.close()


def export_row(database, response_id: int):
    query = sa.select(tables.exports).where(tables.exports.c.resource_id == response_id)
    with database.connect() as connection:
        rows = connection.execute(query.order_by(tables.exports.c.id)).all()
    assert rows, f"response {response_id} has no export"
    return rows[-1]


def body(reply: Reply) -> dict:
    return json.loads(reply.body)


# --- Given ------------------------------------------------------------------------------


@given(step_text('external system {system_id:d} exports responses to the CCD case type "{case_type_id}"'))
def ccd_system(database, system_id, case_type_id):
    with database.begin() as connection:
        db.put_ccd_system(connection, system_id, case_type_id=case_type_id)
        controls = tables.system_controls
        connection.execute(sa.delete(controls).where(controls.c.external_system_id == system_id))


@given(step_text('response {response_id:d} has the case number "{case_number}", which CCD holds'))
def response_in_ccd(database, fake_ccd, response_id, case_number):
    with database.begin() as connection:
        db.put_responses_with_case_numbers(connection, {response_id: case_number})
    fake_ccd.add_case("ET_EnglandWales", case_number, "Manchester")


def put_export(database, response_id: int, system_id: int, state: str, *, owned: bool = True, **values) -> None:
    now = datetime.now(UTC)
    with database.begin() as connection:
        connection.execute(
            sa.insert(tables.exports).values(
                resource_type="Response",
                resource_id=response_id,
                external_system_id=system_id,
                state=state,
                percent_complete=0,
                message=f"Response {state}",
                external_data={"error": {"message": "CCD did not answer"}} if state == "failed" else {},
                command_uuid=str(uuid.uuid4()) if owned else None,
                created_at=now,
                updated_at=now,
                **values,
            )
        )


@given(
    step_text(
        "response {response_id:d} has a failed export to external system {system_id:d} after {attempts:d} attempts"
    )
)
def failed_export(database, response_id, system_id, attempts):
    put_export(database, response_id, system_id, "failed", attempts=attempts)


@given(step_text("response {response_id:d} has a queued export to external system {system_id:d}"))
def queued_export(database, response_id, system_id):
    put_export(database, response_id, system_id, "queued", next_attempt_at=datetime.now(UTC) + timedelta(hours=1))


@given(step_text("response {response_id:d} has an export to external system {system_id:d} in progress"))
def export_in_progress(database, response_id, system_id):
    until = datetime.now(UTC) + timedelta(minutes=5)
    put_export(database, response_id, system_id, "in_progress", claim_token=str(uuid.uuid4()), claimed_until=until)


@given(step_text("response {response_id:d} has a failed export to external system {system_id:d} queued by the ET API"))
def et_api_export(database, response_id, system_id):
    put_export(database, response_id, system_id, "failed", owned=False)


# --- When -------------------------------------------------------------------------------


def act(operator, replies, path: str, payload: bytes = b"") -> None:
    client, _ = operator
    replies.append(client.send("POST", path, payload, JSON_HEADERS))


@when(parsers.re(r"the operator (?P<action>retries|cancels) the export of response (?P<response_id>[0-9]+)"))
def act_on_export(database, operator, replies, action, response_id):
    response_id = int(response_id)
    act(operator, replies, f"/api/v2/exports/{export_row(database, response_id).id}/{ACTIONS[action]}")


@when(step_text("the operator pauses external system {system_id:d}"))
def pause(operator, replies, system_id):
    act(operator, replies, f"/api/v2/external_systems/{system_id}/pause")


@when(step_text("the operator resumes external system {system_id:d}"))
def resume(operator, replies, system_id):
    act(operator, replies, f"/api/v2/external_systems/{system_id}/resume")


@when(step_text("the admin client exports response {response_id:d} to external system {system_id:d}"))
def export_response(client, replies, response_id, system_id):
    command = {
        "uuid": str(uuid.uuid4()),
        "command": "ExportResponses",
        "data": {"external_system_id": system_id, "response_ids": [response_id]},
    }
    replies.append(client.post("/api/v2/exports/export_responses", json.dumps(command).encode(), JSON_HEADERS))


@when(step_text("the worker runs until the export of response {response_id:d} is final"))
def worker_runs(database, worker_deps, response_id):
    pipeline.run_until_final(worker_deps, database, export_row(database, response_id).command_uuid)


# --- Then -------------------------------------------------------------------------------


@then(step_text('the reply is 200 with the export "{state}", due now, with {attempts:d} attempts'))
def requeued(replies, state, attempts):
    reply = replies[-1]
    assert reply.status == 200, reply.body
    export = body(reply)
    assert (export["state"], export["attempts"]) == (state, attempts)
    due = datetime.strptime(export["next_attempt_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - due).total_seconds()) < 60


@then(step_text('the reply is 200 with the export "{state}" and the message "{message}"'))
def reply_with_state(replies, state, message):
    assert replies[-1].status == 200, replies[-1].body
    assert (body(replies[-1])["state"], body(replies[-1])["message"]) == (state, message)


@then(step_text('the reply is 202 with the export "{state}", cancelled when its attempt ends by the operator'))
def cancel_in_flight(database, operator, replies, state):
    reply = replies[-1]
    assert reply.status == 202, reply.body
    assert body(reply)["state"] == state
    assert export_row(database, body(reply)["response_id"]).cancel_requested_by == operator[1]


@then(step_text('the reply is {status:d} "{code}" saying "{words}"'))
def refused(replies, status, code, words):
    reply = replies[-1]
    assert reply.status == status, reply.body
    [error] = body(reply)["errors"]
    assert error["code"] == code and words in error["detail"], error


@then(
    parsers.re(
        r'the export of response (?P<response_id>[0-9]+) is "(?P<state>\w+)" after (?P<attempts>[0-9]+) attempts?'
    ),
    converters={"response_id": int, "attempts": int},
)
def export_state(database, response_id, state, attempts):
    row = export_row(database, response_id)
    assert (row.state, row.attempts) == (state, attempts)


@then(step_text('the export of response {response_id:d} is still "{state}" with no event'))
def export_untouched(database, response_id, state):
    row = export_row(database, response_id)
    assert row.state == state
    with database.connect() as connection:
        assert db.events_of_export(connection, row.id) == []


def event_rows(database, response_id: int) -> list[dict]:
    with database.connect() as connection:
        events = db.events_of_export(connection, export_row(database, response_id).id)
    return [
        {
            "state": event.state,
            "message": event.message,
            "by": (event.data or {}).get("export_responses", {}).get("by", ""),
        }
        for event in events
    ]


@then(step_text("the events of the export of response {response_id:d} end with:"))
def events_end_with(database, operator, response_id, datatable):
    header, *rows = datatable
    expected = [dict(zip(header, row, strict=True)) for row in rows]
    for row in expected:
        row["by"] = operator[1] if row["by"] == "the operator" else row["by"]
    assert event_rows(database, response_id)[-len(expected) :] == expected


@then(step_text("the export of response {response_id:d} has one event by the operator"))
def one_event_by_operator(database, operator, response_id):
    assert [row["by"] for row in event_rows(database, response_id)] == [operator[1]]


def system_listed(operator, system_id: int) -> dict:
    client, _ = operator
    reply = client.send("GET", "/api/v2/external_systems", b"", JSON_HEADERS)
    assert reply.status == 200, reply.body
    [system] = [system for system in body(reply)["external_systems"] if system["id"] == system_id]
    return system


@then(step_text("the systems list shows external system {system_id:d} paused by the operator"))
def listed_paused(operator, replies, system_id):
    system = system_listed(operator, system_id)
    assert (system["paused"], system["paused_by"]) == (True, operator[1])
    assert body(replies[-1]) == system


@then(step_text("the systems list shows external system {system_id:d} running, with {count:d} export queued"))
def listed_running(operator, system_id, count):
    system = system_listed(operator, system_id)
    assert (system["paused"], system["exports"]["queued"]) == (False, count)


@then(step_text('the command is accepted and the export of response {response_id:d} is "{state}"'))
def command_accepted(database, replies, response_id, state):
    assert replies[-1].status == 202, replies[-1].body
    assert export_row(database, response_id).state == state
