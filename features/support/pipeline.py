"""The export pipeline for the scenarios: the worker against a fake CCD, and the status API.

The worker runs in the test process, on the scenario's database (in live mode the
server's, through DATABASE_URL), with the real HTTP gateway pointed at a FakeCcd
started for the scenario. Timeouts and retry delays are short so that a scenario
with retries takes well under a second.
"""

from __future__ import annotations

import json
import threading
import time

import sqlalchemy as sa

from adapters.ccd.fake_server import FakeCcd
from adapters.ccd.http_gateway import HttpCcdGateway
from adapters.ccd.settings import CcdSettings
from application.carry_out_exports import ExportWorkDeps
from entrypoints.worker import Worker
from features.support import database as db

READ_TIMEOUT = 1.5  # seconds; the feature's timeout scenario depends on it. Not less: on a loaded
# machine a first call (a new connection, the login) has taken more than 0.5 s.
RETRY_DELAYS = (0.1, 0.1)  # two retries: three attempts in all
CONCURRENCY = 2
POLL_SECONDS = 0.05
FINAL_WITHIN = 10.0  # seconds before "the worker runs until every export is final" gives up
FINAL_STATES = ("complete", "failed")
WORKER_LOGGER = "export_responses.worker"
ACCEPT_JSON = {"Accept": "application/json"}


def gateway_for(fake: FakeCcd) -> HttpCcdGateway:
    urls = fake.base_urls
    return HttpCcdGateway(
        CcdSettings(
            auth_base_url=urls["CCD_AUTH_BASE_URL"],
            idam_base_url=urls["CCD_IDAM_BASE_URL"],
            data_store_base_url=urls["CCD_DATA_STORE_BASE_URL"],
            document_store_base_url=urls["CCD_DOCUMENT_STORE_BASE_URL"],
            jurisdiction_id=fake.jurisdiction_id,
            microservice_id=fake.microservice_id,
            microservice_secret=fake.microservice_secret,
            sidam_username=fake.username,
            sidam_password=fake.password,
            read_timeout=READ_TIMEOUT,
        )
    )


def states_of_command(engine: sa.Engine, command_uuid: str) -> list[str]:
    with engine.connect() as connection:
        return [export.state for export in db.exports_of_command(connection, command_uuid)]


def run_until_final(deps: ExportWorkDeps, engine: sa.Engine, command_uuid: str) -> int:
    """Drain runs of the worker until every export of the command is final; how many runs that took.

    A drain run ends as soon as nothing is due, so an export waiting out a retry delay
    needs another run after the delay.
    """
    deadline = time.monotonic() + FINAL_WITHIN
    runs = 0
    while True:
        Worker(deps, concurrency=CONCURRENCY, poll_seconds=POLL_SECONDS).run(drain=True)
        runs += 1
        states = states_of_command(engine, command_uuid)
        if not states:
            raise AssertionError(f"the command {command_uuid} queued no exports")
        if all(state in FINAL_STATES for state in states):
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(f"not final after {FINAL_WITHIN:g} s ({runs} worker runs): {states}")
        time.sleep(POLL_SECONDS)


def export_row(engine: sa.Engine, command_uuid: str, response_id: int) -> sa.Row:
    with engine.connect() as connection:
        (export,) = [row for row in db.exports_of_command(connection, command_uuid) if row.resource_id == response_id]
    return export


def run_until_attempted(
    deps: ExportWorkDeps, engine: sa.Engine, command_uuid: str, response_id: int, attempts: int
) -> None:
    """Drain runs of one worker slot, in the order exports fall due, until the command's
    export of `response_id` has been charged `attempts` attempts or is final."""
    deadline = time.monotonic() + FINAL_WITHIN
    while True:
        export = export_row(engine, command_uuid, response_id)
        if export.attempts >= attempts or export.state in FINAL_STATES:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"response {response_id} not attempted {attempts} times within {FINAL_WITHIN:g} s")
        Worker(deps, concurrency=1, poll_seconds=POLL_SECONDS).run(drain=True)
        time.sleep(POLL_SECONDS)


def run_for(deps: ExportWorkDeps, seconds: float) -> None:
    """Run the worker for `seconds`, then stop it as SIGTERM would: it finishes what it holds."""
    worker = Worker(deps, concurrency=CONCURRENCY, poll_seconds=POLL_SECONDS)
    thread = threading.Thread(target=worker.run, name="scenario-worker")
    thread.start()
    time.sleep(seconds)
    worker.stop()
    thread.join(FINAL_WITHIN)
    assert not thread.is_alive(), f"the worker did not stop within {FINAL_WITHIN:g} s"


def get_json(client, path: str) -> dict:
    reply = client.send("GET", path, b"", ACCEPT_JSON)
    assert reply.status == 200, (path, reply.status, reply.body)
    return json.loads(reply.body)


def exports_of_command(client, command_uuid: str) -> dict[int, dict]:
    """The command's exports as the status API shows them, with their events, by response id.

    Listed with `GET /api/v2/exports?command_uuid=`, then each read with `GET /api/v2/exports/{id}`;
    the listing and the single read must agree.
    """
    listing = get_json(client, f"/api/v2/exports?command_uuid={command_uuid}")
    assert listing["meta"]["total"] == len(listing["exports"]), listing["meta"]
    found = {}
    for summary in listing["exports"]:
        detail = get_json(client, f"/api/v2/exports/{summary['id']}")
        assert {key: value for key, value in detail.items() if key != "events"} == summary
        assert detail["command_uuid"] == command_uuid
        found[detail["response_id"]] = detail
    assert len(found) == len(listing["exports"]), "two exports of one response"
    return found
