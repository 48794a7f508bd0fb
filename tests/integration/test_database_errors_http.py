"""A database error that is no outage is a 500 with the request id, never a 503."""

from __future__ import annotations

import uuid

import pytest

from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app
from tests.auth import TEST_TOKEN, authenticated_client
from tests.builders import add_external_system, add_responses


@pytest.mark.postgres
def test_a_protocol_violation_that_is_no_outage_is_an_internal_error_with_the_request_id(postgres_url, tmp_path):
    services = bootstrap(Settings(postgres_url, tmp_path, api_tokens=(TEST_TOKEN,)))
    try:
        with services.engine.begin() as connection:
            add_external_system(connection, 43)
            add_responses(connection, [1])
            # The server reports a protocol violation on a connection that survives it, as it
            # did when PgBouncer handed one client's prepared statement to another.
            connection.exec_driver_sql("""
                CREATE FUNCTION violate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                  RAISE EXCEPTION 'bind message supplies 4 parameters, but prepared statement "_pg3_4" requires 14'
                    USING ERRCODE = 'protocol_violation';
                END $$;
                CREATE TRIGGER violate BEFORE INSERT ON commands FOR EACH ROW EXECUTE FUNCTION violate();
            """)
        client = authenticated_client(create_app(services))
        body = {
            "uuid": str(uuid.uuid4()),
            "command": "ExportResponses",
            "data": {"external_system_id": 43, "response_ids": [1]},
        }
        reply = client.simulate_post(EXPORT_RESPONSES_PATH, json=body)
        assert reply.status_code == 500, reply.text
        error = reply.json["errors"][0]
        assert error["code"] == "internal_error"
        assert reply.headers["X-Request-Id"] in error["detail"]
        assert "Retry-After" not in reply.headers
        assert client.simulate_get("/health").status_code == 200  # the database answers: no outage
    finally:
        services.close()
