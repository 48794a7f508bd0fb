"""Fixtures and data steps for the features: one client, one database, two ways to run.

By default every scenario gets a freshly migrated SQLite database and the app in
process (Falcon's TestClient). With BDD_BASE_URL set, the same scenarios run over HTTP
against that server, authenticate with BDD_API_TOKEN, and seed its database through
DATABASE_URL; the seeding steps delete the rows they are about to create, so runs
against one database repeat.

Steps that speak of the database live here; steps that speak HTTP live beside the
`scenarios(...)` call in test_export_responses.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from parse import with_pattern
from pytest_bdd import given, parsers, then

from adapters.sql import migrate
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import create_app
from features.support import database as db
from features.support.client import Exchange, InProcessClient, LiveClient
from features.support.pipeline import RETRY_DELAYS
from tests.auth import AUTHORIZATION, TEST_TOKEN
from tests.rails_rows import create_original_database


@with_pattern(r"-?\d+(?:, -?\d+)*")
def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(", ")]


@with_pattern(r"true|false")
def _flag(text: str) -> bool:
    return text == "true"


TYPES = {"Ids": _ids, "Flag": _flag}


def step_text(text: str) -> parsers.parse:
    return parsers.parse(text, extra_types=TYPES)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def live_base_url() -> str | None:
    return os.environ.get("BDD_BASE_URL") or None


@pytest.fixture(scope="session")
def adopted_template(postgres_cluster, tmp_path_factory) -> str:
    """The original ET API's database, with the Rails side's rows, adopted by `migrate`."""
    url = postgres_cluster.create_database("template_adopted")
    services = bootstrap(Settings(database_url=url, data_dir=tmp_path_factory.mktemp("adopted")))
    try:
        create_original_database(services.engine)
        assert migrate.upgrade(services.engine) is migrate.DatabaseKind.ORIGINAL
    finally:
        services.close()
    return "template_adopted"


@pytest.fixture(params=["sqlite", pytest.param("adopted", marks=pytest.mark.postgres)])
def bdd_database_url(request, live_base_url) -> str:
    """In process: a fresh SQLite database, and the original's PostgreSQL database once adopted."""
    if live_base_url is None:
        if request.param == "adopted":
            cluster = request.getfixturevalue("postgres_cluster")
            template = request.getfixturevalue("adopted_template")
            return cluster.create_database(f"adopted_{uuid.uuid4().hex[:12]}", template=template)
        return request.getfixturevalue("sqlite_url")
    if request.param != "sqlite":
        pytest.skip("against a live server, the scenarios run once, on its database")
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.fail("BDD_BASE_URL is set, so DATABASE_URL must name that server's database")
    return url


@pytest.fixture(autouse=True)
def each_database(bdd_database_url) -> str:
    # Steps ask for their fixtures as they run: this makes every scenario ask for the
    # database up front, so that pytest runs it once on each kind.
    return bdd_database_url


@pytest.fixture
def scenario_settings(bdd_database_url, tmp_path) -> Settings:
    """The scenario's database, the test token, and the worker's short retry delays."""
    return Settings(
        database_url=bdd_database_url, data_dir=tmp_path, api_tokens=(TEST_TOKEN,), retry_delays=RETRY_DELAYS
    )


@pytest.fixture
def services(scenario_settings) -> Iterator[Services]:
    """The app's services on the scenario's database, as `serve` builds them."""
    built = bootstrap(scenario_settings)
    yield built
    built.close()


@pytest.fixture
def database(services) -> sa.Engine:
    assert services.engine is not None
    return services.engine


@pytest.fixture
def client(live_base_url, services):
    if live_base_url is not None:
        token = os.environ.get("BDD_API_TOKEN")
        if not token:
            pytest.fail("BDD_BASE_URL is set, so BDD_API_TOKEN must hold a token that server accepts")
        live = LiveClient(live_base_url, {"Authorization": f"Bearer {token}"})
        yield live
        live.close()
        return
    yield InProcessClient(create_app(services), AUTHORIZATION)


@pytest.fixture
def exchanges() -> list[Exchange]:
    """Every request of the scenario, in order; the When steps append to it."""
    return []


# --- Given: the rows a scenario starts from ---------------------------------------------


@given(step_text("an external system with id {system_id:d} that exports responses"))
def system_exporting_responses(database, system_id):
    with database.begin() as connection:
        db.put_external_system(connection, system_id, enabled=True, export_responses=True)


@given(
    step_text(
        "an external system with id {system_id:d} with enabled {enabled:Flag} "
        "and export_responses {export_responses:Flag}"
    )
)
def system_with_flags(database, system_id, enabled, export_responses):
    with database.begin() as connection:
        db.put_external_system(connection, system_id, enabled=enabled, export_responses=export_responses)


@given(step_text("there is no external system with id {system_id:d}"))
def no_system(database, system_id):
    with database.begin() as connection:
        db.remove_external_system(connection, system_id)


@given(step_text("a response with id {ids:Ids} exists"))
@given(step_text("responses with ids {ids:Ids} exist"))
def responses_exist(database, ids):
    with database.begin() as connection:
        db.put_responses(connection, ids)


@given(step_text("there are no responses with ids {ids:Ids}"))
def no_responses(database, ids):
    with database.begin() as connection:
        db.remove_responses(connection, ids)


@given(step_text("response {response_id:d} already has a queued export to external system {system_id:d}"))
def queued_export(database, response_id, system_id):
    with database.begin() as connection:
        db.add_queued_export(connection, response_id, system_id)


@given("the admin client sends no credentials")
def no_credentials(client):
    client.credentials = {}


@given(step_text('the admin client sends the Authorization header "{value}"'))
def other_credentials(client, value):
    client.credentials = {"Authorization": value}


@given(step_text('no command has been sent with uuid "{command_uuid}"'))
def no_command_with_uuid(database, command_uuid):
    with database.begin() as connection:
        db.forget_command(connection, command_uuid)


# --- Then: what the database holds afterwards -------------------------------------------


@then("the request wrote no rows to exports, export_events or commands")
def nothing_written(database, exchanges):
    with database.connect() as connection:
        assert db.snapshot(connection) == exchanges[-1].rows_before


@then(
    step_text(
        "the request added rows: {exports:d} to exports, {events:d} to export_events and {commands:d} to commands"
    )
)
def rows_added(database, exchanges, exports, events, commands):
    with database.connect() as connection:
        after = db.snapshot(connection)
    before = exchanges[-1].rows_before
    added = {name: len(after[name]) - len(before[name]) for name in after}
    assert added == {"exports": exports, "export_events": events, "commands": commands}
    assert all(row in after[name] for name, rows in before.items() for row in rows), "a row changed"


@then(
    step_text('the command "{command_uuid}" queued one export to external system {system_id:d} for response {ids:Ids}')
)
@then(
    step_text(
        'the command "{command_uuid}" queued one export to external system {system_id:d} '
        "for each of responses {ids:Ids}"
    )
)
def command_queued_exports(database, command_uuid, system_id, ids):
    with database.connect() as connection:
        exports = db.exports_of_command(connection, command_uuid)
        assert sorted(export.resource_id for export in exports) == sorted(set(ids))
        for export in exports:
            assert (export.resource_type, export.external_system_id) == ("Response", system_id)
            assert (export.state, export.percent_complete) == ("queued", 0)
            events = db.events_of_export(connection, export.id)
            assert [(e.state, e.percent_complete, e.message) for e in events] == [("queued", 0, "Queued for export")]


@then(step_text("response {response_id:d} has no exports"))
def response_has_no_exports(database, response_id):
    with database.connect() as connection:
        assert db.exports_of_response(connection, response_id) == []


@then(step_text("response {response_id:d} has exactly one pending export to external system {system_id:d}"))
def one_pending_export(database, response_id, system_id):
    with database.connect() as connection:
        pending = db.exports_of_response(connection, response_id, system_id=system_id, states=db.PENDING_STATES)
    assert len(pending) == 1, pending


@then(step_text('the command "{command_uuid}" is logged once, with the reply to its first sending'))
def command_logged(database, exchanges, command_uuid):
    with database.connect() as connection:
        logged = db.logged_commands(connection, command_uuid)
    assert len(logged) == 1, logged
    first = exchanges[0].reply
    assert (logged[0].command, logged[0].response_status) == ("ExportResponses", first.status)
    assert logged[0].response_body.encode() == first.body


@then(step_text('the command "{command_uuid}" is not logged'))
def command_not_logged(database, command_uuid):
    with database.connect() as connection:
        assert db.logged_commands(connection, command_uuid) == []
