"""A database this service built before 0005 keeps every row when it takes the original's shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.sql import migrate, tables
from adapters.sql.engine import create_engine
from domain.commands import ExportResponses
from tests.databases import services_on

QUEUED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
COMMAND = ExportResponses(str(uuid.uuid4()), 43, (18,))
_OLD_ROWS = [
    "INSERT INTO external_systems (id, name, reference, office_codes, enabled, export_queue, export_claims, "
    "export_responses, export_feedback_queue, always_save_export, response_remote_office, created_at, updated_at) "
    "VALUES (43, 'CCD Manchester', 'ccd_manchester', '[24, 41]', true, 'external_system_ccd', false, true, "
    "'default', false, false, :at, :at)",
    "INSERT INTO respondents (id, name, address_building, address_post_code, disability, created_at, updated_at) "
    "VALUES (5, 'Acme Ltd', '1', 'M1 1AA', true, :at, :at)",
    "INSERT INTO representatives (id, name, address_street, created_at, updated_at) "
    "VALUES (2, 'Sam Law', 'High Street', :at, :at)",
    "INSERT INTO responses (id, reference, case_number, claimants_name, respondent_id, representative_id, "
    "continued_employment, created_at, updated_at) "
    "VALUES (18, '240000000018', '2400018/2024', 'Jo Bloggs', 5, 2, false, :at, :at)",
]


@pytest.fixture
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite3'}"
    return request.getfixturevalue("postgres_cluster").create_database(f"old_{uuid.uuid4().hex[:12]}")


@pytest.mark.parametrize("empty_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_rows_written_before_0005_survive_it_and_a_logged_command_still_replays(empty_url):
    engine = create_engine(empty_url)
    handle = services_on(engine).handle_export_responses
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as connection:
            for statement in _OLD_ROWS:
                connection.execute(sa.text(statement), {"at": QUEUED_AT})
        _queue_the_old_way(engine)
        if engine.dialect.name == "postgresql":
            printed = migrate.dry_run(engine)
            assert "CREATE TABLE addresses" in printed and "UPDATE alembic_version SET version_num='0005'" in printed
        else:
            with pytest.raises(migrate.Refused, match="--dry-run needs PostgreSQL"):
                migrate.dry_run(engine)

        assert migrate.upgrade(engine) is migrate.DatabaseKind.OURS

        with engine.connect() as connection:
            system = connection.execute(sa.select(tables.external_systems)).mappings().one()
            respondent = connection.execute(sa.select(tables.respondents)).mappings().one()
            agent = connection.execute(sa.select(tables.representatives)).mappings().one()
            response = connection.execute(sa.select(tables.responses)).mappings().one()
            export = connection.execute(sa.select(tables.exports)).mappings().one()
            logged = connection.execute(sa.select(tables.commands)).mappings().one()
            address = {row.id: row for row in connection.execute(sa.select(tables.addresses))}
        assert system["office_codes"] == [24, 41]
        assert (address[respondent["address_id"]].building, address[respondent["address_id"]].post_code) == (
            "1",
            "M1 1AA",
        )
        assert address[agent["address_id"]].street == "High Street"
        assert (respondent["disability"], response["continued_employment"]) == ("true", "false")
        assert response["pdf_template_reference"] == "et3-v1-en"  # required by the original
        assert (export["command_uuid"], export["next_attempt_at"], export["created_at"]) == (
            COMMAND.uuid,
            QUEUED_AT,
            QUEUED_AT,
        )
        assert (logged["command"], logged["fingerprint"]) == ("ExportResponses", COMMAND.fingerprint())
        # The command logged before 0005 is answered from the log, not queued again.
        assert handle(COMMAND).accepted
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(tables.exports)).scalar_one() == 1
        assert handle(ExportResponses(COMMAND.uuid, 43, (18, 18))).codes == ["uuid_conflict"]
    finally:
        engine.dispose()


def _queue_the_old_way(engine: sa.Engine) -> None:
    """An accepted command and its export, as the service wrote them before 0005."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO commands (id, command, request_body, request_headers, response_body, response_headers, "
                "response_status, created_at, updated_at) VALUES (:id, 'ExportResponses', :fingerprint, '{}', :reply, "
                "'{}', 202, :at, :at)"
            ),
            {
                "id": _stored_uuid(engine, COMMAND.uuid),
                "fingerprint": COMMAND.fingerprint(),
                "reply": f'{{"status":"accepted","meta":{{}},"uuid":"{COMMAND.uuid}"}}',
                "at": QUEUED_AT,
            },
        )
        connection.execute(
            sa.text(
                "INSERT INTO exports (resource_type, resource_id, external_system_id, state, percent_complete, message, "
                "external_data, command_uuid, attempts, next_attempt_at, created_at, updated_at) VALUES ('Response', 18, "
                "43, 'queued', 0, 'Queued for export', '{}', :uuid, 0, :at, :at, :at)"
            ),
            {"uuid": _stored_uuid(engine, COMMAND.uuid), "at": QUEUED_AT},
        )


def _stored_uuid(engine: sa.Engine, value: str) -> str:
    # sa.Uuid keeps a uuid as 32 hex digits on SQLite, as PostgreSQL's uuid type on PostgreSQL.
    return value.replace("-", "") if engine.dialect.name == "sqlite" else value
