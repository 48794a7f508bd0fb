"""Binds export_pipeline.feature: the command over HTTP, the worker against a fake CCD, the status API.

The fake CCD, the gateway and the worker belong to the scenario; the database and the
client are conftest's, so in live mode (BDD_BASE_URL) the command and the reads go to
that server while the worker runs here on its database (DATABASE_URL). The seeding
steps delete what an earlier run left for the same ids, and each command gets a fresh
uuid, so the scenarios repeat against one database. In live mode no other worker may
be running on that database: it would take the exports to a CCD other than this fake.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime

import attrs
import pytest
from attrs import frozen
from pytest_bdd import given, parsers, scenarios, then, when

from adapters.ccd.fake_server import FakeCcd
from domain.circuits import CircuitPolicy
from domain.retries import RetrySchedule
from entrypoints.bootstrap import bootstrap
from features.conftest import step_text
from features.support import database as db
from features.support import pipeline
from features.support.client import Reply

scenarios("export_pipeline.feature")

JSON_REQUEST_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
STAGES = {"data store": "data", "login": "token"}  # as the feature says it, as FakeCcd names it
LOGIN_PATHS = ("/auth/lease", "/idam/loginUser", "/idam/details")
_INTEGER = re.compile(r"-?[0-9]+")
# The erroring event is stamped a few microseconds after the retry time is set from the clock.
CLOCK_SLACK = 0.005


@frozen
class SentCommand:
    uuid: str
    reply: Reply


def cell(text: str):
    """A table cell as the API would give it: null, an integer, or text."""
    if text == "null":
        return None
    return int(text) if _INTEGER.fullmatch(text) else text


def records(datatable: list[list[str]]) -> list[dict[str, str]]:
    header, *rows = datatable
    return [dict(zip(header, row, strict=True)) for row in rows]


def instant(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# --- fixtures: CCD and the worker, per scenario ---------------------------------------


@pytest.fixture
def fake_ccd():
    with FakeCcd() as fake:
        yield fake


@pytest.fixture
def ccd_gateway(fake_ccd):
    gateway = pipeline.gateway_for(fake_ccd)
    yield gateway
    gateway.close()


@pytest.fixture
def worker_deps(scenario_settings, ccd_gateway):
    """What `export-responses worker` composes, with the gateway on the scenario's fake CCD."""
    services = bootstrap(scenario_settings, ccd=ccd_gateway)
    yield services.export_work
    services.close()


# --- Given ------------------------------------------------------------------------------


@given(
    step_text('an external system with id {system_id:d} that exports responses to the CCD case type "{case_type_id}"')
)
def ccd_system(database, system_id, case_type_id):
    with database.begin() as connection:
        db.put_ccd_system(connection, system_id, case_type_id=case_type_id)


@given(
    step_text(
        "an external system with id {system_id:d} that exports responses to the CCD case type "
        '"{case_type_id}" and assigns responses to remote offices'
    )
)
def ccd_system_with_remote_offices(database, system_id, case_type_id):
    with database.begin() as connection:
        db.put_ccd_system(connection, system_id, case_type_id=case_type_id, response_remote_office=True)


@given("these responses exist:")
def responses_with_case_numbers(database, datatable):
    case_numbers = {int(row["response_id"]): row["case_number"] for row in records(datatable)}
    with database.begin() as connection:
        db.put_responses_with_case_numbers(connection, case_numbers)


@given("CCD holds the cases:")
def ccd_cases(fake_ccd, datatable):
    for row in records(datatable):
        fake_ccd.add_case(
            row["case_type_id"], row["case_number"], row["managing_office"] or None, case_id=int(row["case_id"])
        )


@given(
    parsers.re(r"CCD answers the next (?P<stage>data store|login) request with (?P<status>[0-9]{3})"),
    converters={"status": int},
)
def ccd_fails_next(fake_ccd, stage, status):
    fake_ccd.fail_next(STAGES[stage], [status])


@given(parsers.parse("CCD takes {seconds:f} s to answer the next data store request"))
def ccd_slow_once(fake_ccd, seconds):
    assert seconds > pipeline.READ_TIMEOUT, "not slow enough to time out"
    fake_ccd.delay_next(seconds, count=1, stage="data")


@given("the worker logged in to CCD earlier")
def worker_logged_in(fake_ccd, ccd_gateway):
    # A search through the worker's own gateway leaves it holding tokens, as an earlier export would.
    ccd_gateway.find_latest_case("ET_EnglandWales", "9999999/1999")
    assert [fake_ccd.calls[path] for path in LOGIN_PATHS] == [1, 1, 1]


@given("CCD has since expired every token it issued")
def ccd_expires_tokens(fake_ccd):
    fake_ccd.expire_tokens()


@given(step_text('CCD answers every search for the case "{case_number}" with {status:d}'))
def ccd_fails_searches_for(fake_ccd, case_number, status):
    fake_ccd.fail_searches_for(case_number, status)


@given("CCD refuses every connection")
def ccd_refuses_connections(fake_ccd):
    fake_ccd.refuse_connections()


@given(parsers.parse("the worker retries a failed export twice, {seconds:f} s apart"), target_fixture="worker_deps")
def retries_apart(worker_deps, seconds):
    return attrs.evolve(worker_deps, retries=RetrySchedule((seconds, seconds)))


@given("the worker never retries a failed export", target_fixture="worker_deps")
def never_retries(worker_deps):
    return attrs.evolve(worker_deps, retries=RetrySchedule(()))


@given(parsers.parse("CCD allows {per_second:d} calls a second and answers 429 beyond that"))
def ccd_rate_limited(fake_ccd, per_second):
    fake_ccd.limit_rate(per_second)  # a burst of one second's worth: a login's three calls fit


@given(
    parsers.parse(
        "the worker opens a system's circuit after {failures:d} transient failures in a row, probing {first:f} s "
        "later and then twice as long each time up to {longest:f} s"
    ),
    target_fixture="worker_deps",
)
def circuit_policy(worker_deps, caplog, failures, first, longest):
    caplog.set_level(logging.INFO, logger=pipeline.WORKER_LOGGER)
    policy = CircuitPolicy(failures_to_open=failures, first_probe_seconds=first, max_probe_seconds=longest)
    return attrs.evolve(worker_deps, circuit=policy)


# --- When -------------------------------------------------------------------------------


@when(
    step_text("the admin client exports response {ids:Ids} to external system {system_id:d}"), target_fixture="command"
)
@when(
    step_text("the admin client exports responses {ids:Ids} to external system {system_id:d}"), target_fixture="command"
)
def export_responses(client, ids, system_id):
    command_uuid = str(uuid.uuid4())  # fresh per run: a live database keeps the commands of earlier runs
    body = {
        "uuid": command_uuid,
        "command": "ExportResponses",
        "data": {"external_system_id": system_id, "response_ids": ids},
    }
    return SentCommand(
        command_uuid, client.post("/api/v2/exports/export_responses", json.dumps(body).encode(), JSON_REQUEST_HEADERS)
    )


@when(parsers.parse("the worker runs for {seconds:g} s"))
def worker_runs_for(worker_deps, seconds):
    pipeline.run_for(worker_deps, seconds)


@when(
    step_text(
        "the export of response {response_id:d} is attempted {times:d} times, an export of response {other:d} "
        "to external system {system_id:d} answered before each"
    )
)
def attempted_between_others(client, worker_deps, database, command, response_id, times, other, system_id):
    for _ in range(times):
        attempts = pipeline.export_row(database, command.uuid, response_id).attempts
        # Queued now, it is due before the export's next attempt (the retries are further
        # apart than this takes), so one worker at a time answers it first.
        assert export_responses(client, [other], system_id).reply.status == 202
        pipeline.run_until_attempted(worker_deps, database, command.uuid, response_id, attempts + 1)


@when("CCD accepts connections again")
def ccd_accepts_connections(fake_ccd):
    fake_ccd.accept_connections()


@when("the worker runs until every export of the command is final")
def worker_runs(worker_deps, database, command):
    pipeline.run_until_final(worker_deps, database, command.uuid)


# --- Then -------------------------------------------------------------------------------


@then("the command is accepted")
def command_accepted(command):
    assert command.reply.status == 202, command.reply.body
    assert json.loads(command.reply.body) == {"status": "accepted", "meta": {}, "uuid": command.uuid}


def export_of(client, command, response_id) -> dict:
    exports = pipeline.exports_of_command(client, command.uuid)
    assert response_id in exports, f"no export of response {response_id}: {sorted(exports)}"
    return exports[response_id]


@then(step_text("the export of response {response_id:d} reads:"))
def export_reads(client, command, response_id, datatable):
    export = export_of(client, command, response_id)
    expected = {name: cell(value) for name, value in datatable}
    assert {name: export[name] for name in expected} == expected


@then(step_text("the external_data of the export of response {response_id:d} is:"))
def external_data_is(client, command, response_id, docstring):
    assert export_of(client, command, response_id)["external_data"] == json.loads(docstring)


@then(
    step_text(
        "the external_data of the export of response {response_id:d} names the case {case_id:d} "
        'in the office "{office}"'
    )
)
def external_data_names_case(client, command, response_id, case_id, office):
    data = export_of(client, command, response_id)["external_data"]
    assert (data.get("case_id"), data.get("office")) == (case_id, office), data


def event_row(event: dict) -> dict:
    # As the original wrote it, and the ET admin reads it: under data.external_data.
    error = (event["data"]["external_data"].get("error") or {}).get("message", "")
    return {
        "state": event["state"],
        "percent_complete": event["percent_complete"],
        "message": event["message"],
        "error": error,
    }


@then(step_text("the events of the export of response {response_id:d} are:"))
def events_are(client, command, response_id, datatable):
    events = export_of(client, command, response_id)["events"]
    expected = [
        {name: cell(value) if name == "percent_complete" else value for name, value in row.items()}
        for row in records(datatable)
    ]
    assert [event_row(event) for event in events] == expected


@then(
    step_text(
        "the export of response {response_id:d} was tried again no sooner than {seconds:f} s "
        "after its first attempt failed"
    )
)
def retried_after_delay(client, command, response_id, seconds):
    events = export_of(client, command, response_id)["events"]
    states = [event["state"] for event in events]
    failed_at = states.index("erroring")
    assert states[failed_at + 1] == "in_progress", states
    waited = (instant(events[failed_at + 1]["created_at"]) - instant(events[failed_at]["created_at"])).total_seconds()
    assert waited >= seconds - CLOCK_SLACK, waited


@then(step_text("CCD saw {logins:d} logins and {searches:d} case searches, the last with fresh tokens"))
def ccd_saw_logins(fake_ccd, logins, searches):
    assert [fake_ccd.calls[path] for path in LOGIN_PATHS] == [logins] * len(LOGIN_PATHS)
    tokens = [
        (request.headers.get("serviceauthorization"), request.headers.get("authorization"))
        for request in fake_ccd.received
        if request.path.startswith("/data_store/")
    ]
    assert len(tokens) == searches
    *before, last = tokens
    assert len(set(before)) == 1, "the searches before the fresh login used the same (expired) tokens"
    assert last[0] != before[0][0] and last[1] != before[0][1], "the last search used fresh tokens"


@then("the exports of the command read:")
def exports_read(client, command, datatable):
    exports = pipeline.exports_of_command(client, command.uuid)
    rows = records(datatable)
    assert sorted(exports) == sorted(int(row["response_id"]) for row in rows)
    for row in rows:
        export = exports[int(row["response_id"])]
        actual = {
            "state": export["state"],
            "percent_complete": export["percent_complete"],
            "case_id": export["external_data"].get("case_id"),
            "office": export["external_data"].get("office"),
        }
        expected = {name: cell(value) for name, value in row.items() if name != "response_id"}
        assert actual == expected, (row["response_id"], actual)


@then(step_text('each export with a case says "{found}", each without one says "{not_found}"'))
def messages_by_case(client, command, found, not_found):
    exports = pipeline.exports_of_command(client, command.uuid)
    assert exports, "the command has no exports"
    for response_id, export in exports.items():
        expected = not_found if export["external_data"].get("case_id") is None else found
        assert export["message"] == expected, (response_id, export["message"])


@then(step_text("the events of every export of the command are {states}"))
def events_of_every_export(client, command, states):
    exports = pipeline.exports_of_command(client, command.uuid)
    assert exports, "the command has no exports"
    for response_id, export in exports.items():
        assert [event["state"] for event in export["events"]] == states.split(", "), response_id


@then("the responses belong to the offices:")
def responses_offices(database, datatable):
    rows = records(datatable)
    with database.connect() as connection:
        actual = {int(row["response_id"]): db.office_of_response(connection, int(row["response_id"])) for row in rows}
    assert actual == {int(row["response_id"]): (int(row["office_code"]), row["office_name"]) for row in rows}


@then(step_text("response {response_id:d} belongs to no office"))
def response_without_office(database, response_id):
    with database.connect() as connection:
        assert db.exports_of_response(connection, response_id), "the response was not exported"
        assert db.office_of_response(connection, response_id) is None


@then(step_text('the circuit of external system {system_id:d} is open after "{failure}"'))
def circuit_open(database, system_id, failure):
    with database.connect() as connection:
        circuit = db.circuit_of(connection, system_id)
    assert circuit is not None, "no circuit was stored: none opened"
    assert (circuit.circuit_state, circuit.last_failure) == ("open", failure)
    assert circuit.next_probe_at is not None


@then(step_text("the circuit of external system {system_id:d} is closed"))
def circuit_closed(database, system_id):
    with database.connect() as connection:
        circuit = db.circuit_of(connection, system_id)
    assert circuit is not None, "no circuit was stored: none opened"
    assert (circuit.circuit_state, circuit.consecutive_failures, circuit.next_probe_at) == ("closed", 0, None)


@then(step_text("CCD refused calls with 429 and external system {system_id:d} is throttled"))
def ccd_refused_and_throttled(fake_ccd, database, system_id):
    assert fake_ccd.rate_limited > 0, "CCD refused no call: the scenario did not meet its limit"
    with database.connect() as connection:
        control = db.circuit_of(connection, system_id)
    assert control is not None, "no throttle was stored"
    assert control.throttle_rate > 0 and control.throttled_until is not None
    assert control.consecutive_failures == 0, "a 429 counted towards the circuit breaker"


@then("no export of the command is final")
def none_final(database, command):
    states = pipeline.states_of_command(database, command.uuid)
    assert states and not set(states) & set(pipeline.FINAL_STATES), states


@then(step_text("no export of the command was charged more than {attempts:d} attempts"))
def charged_at_most(client, command, attempts):
    exports = pipeline.exports_of_command(client, command.uuid)
    charged = {response_id: export["attempts"] for response_id, export in exports.items()}
    assert charged and max(charged.values()) <= attempts, charged


@then(
    step_text(
        "the worker logged the circuit of external system {system_id:d} opening, probing at growing intervals, "
        "and closing"
    )
)
def circuit_logged(caplog, worker_deps, system_id):
    lines = [
        (record.created, json.loads(record.getMessage()))
        for record in caplog.records
        if record.name == pipeline.WORKER_LOGGER and record.getMessage().startswith('{"event": "circuit_')
    ]
    events = [line["event"] for _, line in lines if line["external_system_id"] == system_id]
    assert events[0] == "circuit_opened" and events[-2:] == ["circuit_probe", "circuit_closed"], events
    assert events[1:-2] == ["circuit_probe", "circuit_reopened"] * ((len(events) - 3) // 2), events
    probes = [created for created, line in lines if line["event"] == "circuit_probe"]
    assert len(probes) >= 3, events
    policy = worker_deps.circuit
    for number, (earlier, later) in enumerate(zip(probes, probes[1:], strict=False), 1):
        wait = min(policy.max_probe_seconds, policy.first_probe_seconds * 2**number)
        assert later - earlier >= wait - CLOCK_SLACK, (number, later - earlier)
