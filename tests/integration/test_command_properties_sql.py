"""The command endpoint's properties on the real SQLAlchemy adapters, SQLite and PostgreSQL.

Fewer examples than the in-memory properties (tests/unit/test_command_properties.py):
what this adds is the database. A refused command leaves the row counts of exports,
export_events and commands as they were; an accepted one is logged under its uuid.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.sql import tables
from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import EXPORT_RESPONSES_PATH, create_app
from tests.auth import TEST_TOKEN, authenticated_client
from tests.builders import add_external_system, add_responses, count_rows
from tests.hostile_commands import (
    POSITIONS,
    Mutation,
    accepted_body,
    assert_contract_reply,
    assert_judged_like_the_model,
    encode,
    mutations,
)

EARLIER_UUID = "0d7c4e3a-9f1b-4a2c-8e5d-6b7a8c9d0e1f"
EXISTING_RESPONSES = {18, 19, 20, 99}
WRITTEN_TABLES = (tables.exports, tables.export_events, tables.commands)
valid_ids = st.lists(st.sampled_from([18, 19, 20]), min_size=1, max_size=4)
# Extra keys (accepted unless they hold NaN or Infinity) twice as often: the accepted path writes rows.
WEIGHTED_POSITIONS = POSITIONS + ("extra top-level key", "extra data key")


def with_data(position: str, sources: tuple, uuid="fea4decf-2efe-4cd6-96b3-f0a4bbeeca78", **data) -> Mutation:
    document = {
        "uuid": uuid,
        "command": "ExportResponses",
        "data": {"external_system_id": 43, "response_ids": [18], **data},
    }
    return Mutation(position, document, sources)


@pytest.fixture
def client(engine, database_url):
    """The HTTP app on the database: system 43 exports, 44 is disabled; response 99 is queued already."""
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_external_system(connection, 44, reference="disabled", enabled=False)
        add_responses(connection, sorted(EXISTING_RESPONSES))
    services = bootstrap(Settings(database_url, Path("var"), api_tokens=(TEST_TOKEN,)))
    client = authenticated_client(create_app(services))
    earlier = {
        "uuid": EARLIER_UUID,
        "command": "ExportResponses",
        "data": {"external_system_id": 43, "response_ids": [99]},
    }
    reply = client.simulate_post(
        EXPORT_RESPONSES_PATH, body=encode(earlier), headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 202
    yield client
    services.close()


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: count_rows(connection, table) for table in WRITTEN_TABLES}


def forget(engine, command_uuid: str) -> None:
    """Delete what an accepted command wrote, so that every example starts alike."""
    exports = sa.select(tables.exports.c.id).where(tables.exports.c.command_uuid == command_uuid)
    with engine.begin() as connection:
        connection.execute(sa.delete(tables.export_events).where(tables.export_events.c.export_id.in_(exports)))
        connection.execute(sa.delete(tables.exports).where(tables.exports.c.command_uuid == command_uuid))
        connection.execute(sa.delete(tables.commands).where(tables.commands.c.id == command_uuid))


def test_a_refused_command_writes_no_row_and_an_accepted_one_is_logged(engine, client):
    seen: Counter = Counter()
    baseline = row_counts(engine)
    assert baseline == {"exports": 1, "export_events": 1, "commands": 1}

    @settings(max_examples=80)
    @given(mutations(valid_ids, positions=WEIGHTED_POSITIONS))
    @example(with_data("external_system_id", ("/external_system_id",), external_system_id=44))
    @example(with_data("response_ids[i]", ("/response_ids",), response_ids=[18, 2**63 - 1, 77]))
    @example(with_data("uuid", ("/uuid",), uuid="fea4decf-2efe-4cd6-96b3-f0a4bbeeca78\n"))
    def check(mutation):
        reply = client.simulate_post(
            EXPORT_RESPONSES_PATH, body=encode(mutation.document), headers={"Content-Type": "application/json"}
        )
        seen[reply.status_code] += 1
        errors = assert_contract_reply(reply)
        assert_judged_like_the_model(reply, errors, mutation, {43}, EXISTING_RESPONSES)
        if reply.status_code != 202:
            assert row_counts(engine) == baseline, f"a refused command wrote rows: {errors}"
            return
        command_uuid = mutation.document["uuid"].lower()
        assert reply.content == accepted_body(command_uuid)
        distinct = len(set(mutation.document["data"]["response_ids"]))
        counts = row_counts(engine)
        assert counts == {"exports": 1 + distinct, "export_events": 1 + distinct, "commands": 2}, counts
        forget(engine, command_uuid)

    check()
    print(f"\nSQL ({engine.dialect.name}): {sum(seen.values())} examples, {dict(sorted(seen.items()))}")
    assert seen[202] >= 5 and seen[400] >= 20, seen
    assert row_counts(engine) == baseline
