"""The service on the original ET API's database, beside the Rails side: the README's steps.

The original's tables and Rails-shaped rows, then `migrate --dry-run`, `migrate`, the
served endpoint and a worker against the fake CCD; the Rails side's rows and columns
are left as they were, and the ET admin's rules read this service's exports right.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from adapters.ccd.fake_server import FakeCcd
from adapters.sql.engine import create_engine
from entrypoints.cli import main
from tests.auth import AUTHORIZATION
from tests.e2e.conftest import REQUEST_TIMEOUT, running_server
from tests.e2e.test_worker_processes import finish, start_worker
from tests.original_schema import shared_tables
from tests.rails_rows import (
    CASE_TYPE,
    RAILS_COMMAND_UUID,
    RAILS_EXPORT_IDS,
    RESPONSES,
    SYSTEM_ID,
    create_original_database,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
PATH = "/api/v2/exports/export_responses"
RAILS_STATES = {"created", "queued", "in_progress", "complete", "erroring", "failed"}
ORIGINAL = shared_tables()
_COLUMNS = """SELECT table_name, column_name, ordinal_position, data_type, udt_name, is_nullable, column_default,
                     character_maximum_length, numeric_precision, numeric_scale, datetime_precision
              FROM information_schema.columns WHERE table_schema = 'public'"""
# The ET admin's key event (et-pet-admin app/models/export.rb), as SQL: the last complete
# event, else the last failed, else the last erroring, else the last of any state.
KEY_EVENT = """
SELECT e.id, e.resource_id, key.data -> 'external_data' AS external_data, key.data AS data, key.message,
       CASE WHEN EXISTS (SELECT 1 FROM export_events c WHERE c.export_id = e.id AND c.state = 'complete') THEN 100
            ELSE coalesce(key.percent_complete, 0) END AS percent
FROM exports e CROSS JOIN LATERAL (
    SELECT ev.data, ev.message, ev.percent_complete FROM export_events ev WHERE ev.export_id = e.id
    ORDER BY CASE ev.state WHEN 'complete' THEN 0 WHEN 'failed' THEN 1 WHEN 'erroring' THEN 2 ELSE 3 END,
             ev.created_at DESC, ev.id DESC
    LIMIT 1) AS key
WHERE e.id NOT IN (1, 2, 3, 4)
ORDER BY e.resource_id
"""


@pytest.fixture
def original_url(postgres_cluster, monkeypatch) -> str:
    url = postgres_cluster.create_database(f"original_{uuid.uuid4().hex[:12]}")
    engine = create_engine(url)
    try:
        create_original_database(engine)
    finally:
        engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def columns(engine) -> dict[tuple[str, str], tuple]:
    with engine.connect() as connection:
        return {(row[0], row[1]): tuple(row[2:]) for row in connection.exec_driver_sql(_COLUMNS)}


def original_rows(engine) -> dict[str, list[tuple]]:
    """Every row of the shared tables, as far as the original's columns go."""
    with engine.connect() as connection:
        return {
            table: [
                tuple(row) for row in connection.exec_driver_sql(f"SELECT {', '.join(names)} FROM {table} ORDER BY id")
            ]
            for table, names in ORIGINAL.items()
        }


def command(response_ids, command_uuid=None) -> dict:
    return {
        "uuid": command_uuid or str(uuid.uuid4()),
        "command": "ExportResponses",
        "data": {"external_system_id": SYSTEM_ID, "response_ids": list(response_ids)},
    }


def post(server, body: bytes) -> requests.Response:
    # As the admin sends it (Accept and Content-Type), with this deployment's token.
    headers = {"Accept": "application/json", "Content-Type": "application/json", **AUTHORIZATION}
    return requests.post(server.url(PATH), data=body, headers=headers, timeout=REQUEST_TIMEOUT)


def test_the_service_runs_beside_the_original_and_leaves_the_rails_side_as_it_was(original_url, tmp_path, capsys):
    engine = create_engine(original_url)
    columns_before, rows_before = columns(engine), original_rows(engine)

    # migrate --dry-run prints the statements, in one transaction, and changes nothing.
    assert main(["migrate", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "BEGIN;" in printed and "ALTER TABLE exports ADD COLUMN command_uuid UUID;" in printed
    assert "WHERE command_uuid IS NOT NULL AND state IN" in printed and printed.rstrip().endswith("COMMIT;")
    assert ("DROP " not in printed) and ("ALTER COLUMN" not in printed) and ("RENAME" not in printed)
    assert "SET LOCAL lock_timeout = '10s';" in printed and "CREATE TABLE alembic_version" in printed
    assert columns(engine) == columns_before

    assert main(["migrate"]) == 0
    assert "adopted" in capsys.readouterr().out
    columns_after = columns(engine)
    assert {key: columns_after.get(key) for key in columns_before} == columns_before  # no original column changed
    assert original_rows(engine) == rows_before  # nor any row

    (tmp_path / "server").mkdir()
    with running_server(original_url, tmp_path / "server") as server, FakeCcd() as fake:
        for number, case_number in enumerate(RESPONSES.values()):
            fake.add_case(CASE_TYPE, case_number, "Manchester", case_id=1_700_000_000_000_000 + number)
        raw = json.dumps(command(RESPONSES)).encode()
        accepted = post(server, raw)
        assert accepted.status_code == 202, accepted.text
        # Replays answer from the log; other data under the uuid, or a uuid of the Rails side's, conflict.
        assert (post(server, raw).status_code, post(server, raw).json()) == (202, accepted.json())
        sent = json.loads(raw)
        assert post(server, json.dumps(command([1], sent["uuid"])).encode()).status_code == 409
        assert post(server, json.dumps(command([1], RAILS_COMMAND_UUID)).encode()).status_code == 409

        finish(start_worker(original_url, fake, tmp_path, "--drain"))
        # The reading endpoints show the Rails side's exports too.
        rails_export = requests.get(server.url("/api/v2/exports/2"), headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT)
        assert rails_export.status_code == 200, rails_export.text
        assert (rails_export.json()["state"], rails_export.json()["command_uuid"]) == ("in_progress", None)
        assert rails_export.json()["events"][0]["data"]["sidekiq"]["queue"] == "external_system_ccd"

    with engine.connect() as connection:
        logged = connection.exec_driver_sql(
            "SELECT request_body, request_headers, response_status, response_body, response_headers, fingerprint "
            f"FROM commands WHERE id = '{sent['uuid']}'"
        ).one()
        key_events = connection.exec_driver_sql(KEY_EVENT).all()
        ours = connection.exec_driver_sql(
            "SELECT resource_id, state, messages, in_progress FROM exports WHERE command_uuid IS NOT NULL "
            "ORDER BY resource_id"
        ).all()
        states = set(
            connection.exec_driver_sql("SELECT state FROM exports UNION SELECT state FROM export_events").scalars()
        )

    # The Rails side's exports, events and command are as they were, and so is every original column.
    after = original_rows(engine)
    assert [row for row in after["exports"] if row[0] in RAILS_EXPORT_IDS] == rows_before["exports"]
    assert [row for row in after["export_events"] if row[1] in RAILS_EXPORT_IDS] == rows_before["export_events"]
    assert [row for row in after["commands"] if str(row[0]) == RAILS_COMMAND_UUID] == rows_before["commands"]
    assert {key: columns(engine).get(key) for key in columns_before} == columns_before

    # Each response got an export of this service's, beside the Rails side's pending ones.
    assert [(r.resource_id, r.state, r.messages, r.in_progress) for r in ours] == [
        (1, "complete", [], None),
        (2, "complete", [], None),
        (3, "complete", [], None),
    ]
    assert states <= RAILS_STATES
    # The admin's rules give the case details, 100 % and the message, as for the original's exports.
    assert [(row.resource_id, row.percent, row.message) for row in key_events] == [
        (1, 100, "Response exported"),
        (2, 100, "Response exported"),
        (3, 100, "Response exported"),
    ]
    for number, (row, case_number) in enumerate(zip(key_events, RESPONSES.values(), strict=True)):
        assert row.external_data == {
            "case_id": 1_700_000_000_000_000 + number,
            "case_reference": case_number,
            "case_type_id": CASE_TYPE,
            "office": "Manchester",
        }
        assert row.data["export_responses"] == {"attempt": 1}  # the service's own details, beside

    # The command log keeps the request as it came and the reply as it went.
    assert logged.request_body == raw.decode()
    assert logged.request_headers["REQUEST_METHOD"] == "POST"
    assert logged.request_headers["CONTENT_TYPE"] == "application/json"
    assert logged.request_headers["HTTP_ACCEPT"] == "application/json"
    assert "HTTP_AUTHORIZATION" not in logged.request_headers  # credentials never reach the database
    assert (logged.response_status, json.loads(logged.response_body)) == (202, accepted.json())
    assert logged.response_headers["Content-Type"].startswith("application/json")
    engine.dispose()


def test_migrate_refuses_a_database_that_is_neither_empty_ours_nor_the_originals(postgres_cluster, monkeypatch, capsys):
    url = postgres_cluster.create_database(f"other_{uuid.uuid4().hex[:12]}")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE commands (id integer PRIMARY KEY)")
    monkeypatch.setenv("DATABASE_URL", url)
    before = columns(engine)

    assert main(["migrate"]) == 1

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "neither this service's" in lines[0] and "nothing was changed" in lines[0], lines
    assert columns(engine) == before
    engine.dispose()


def test_serve_the_worker_load_and_seed_leave_the_adoption_to_migrate(original_url, monkeypatch, capsys, tmp_path):
    engine = create_engine(original_url)
    before = columns(engine)
    (tmp_path / "empty.json").write_text("{}")
    assert main(["load", str(tmp_path / "empty.json")]) == 1
    load_said = capsys.readouterr().err

    assert main(["serve", "--bind", "127.0.0.1:0"]) == 1  # refused before gunicorn starts
    serve_said = capsys.readouterr().err

    with FakeCcd() as fake:
        for name, value in fake.base_urls.items():
            monkeypatch.setenv(name, value)
        assert main(["worker", "--drain"]) != 0
    worker_said = capsys.readouterr().err
    assert main(["seed"]) == 1
    seed_said = capsys.readouterr().err

    for said in (serve_said, worker_said, load_said, seed_said):
        assert "export-responses migrate" in said, said
    assert "original ET API's database" in serve_said and "original ET API's database" in seed_said
    assert columns(engine) == before
    engine.dispose()


def test_an_export_of_the_rails_sides_with_a_null_state_reads_as_created_its_null_event_as_null(original_url, tmp_path):
    engine = create_engine(original_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE exports SET state = NULL WHERE id = 1")
        connection.exec_driver_sql(
            "INSERT INTO export_events (export_id, state, uuid, data, percent_complete, message, created_at, updated_at)"
            " VALUES (1, NULL, NULL, NULL, NULL, 'written by the Rails side', now(), now())"
        )
    assert main(["migrate"]) == 0
    engine.dispose()
    (tmp_path / "server").mkdir()
    with running_server(original_url, tmp_path / "server") as server:
        reply = requests.get(server.url("/api/v2/exports/1"), headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT)
        listed = requests.get(
            server.url("/api/v2/exports?state=created"), headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT
        )
    assert (reply.status_code, reply.json()["state"]) == (200, "created")
    (event,) = [event for event in reply.json()["events"] if event["message"] == "written by the Rails side"]
    assert (event["state"], event["uuid"], event["data"], event["percent_complete"]) == (None, None, {}, None)
    assert listed.status_code == 200 and [export["id"] for export in listed.json()["exports"]] == [1]
