"""The migrations build exactly the schema the repositories query."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters.sql import migrate
from adapters.sql.tables import PENDING, metadata, offices
from domain.exports import PENDING_STATES
from tests.builders import count_rows


def test_migrated_schema_matches_the_metadata(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migrations_seed_the_standard_offices_once(engine):
    migrate.upgrade(engine)  # a second run changes nothing
    with engine.connect() as connection:
        assert count_rows(connection, offices) == 15
        assert count_rows(connection, offices, code=80) == 1
    assert migrate.is_current(engine)


def test_the_pending_index_covers_exactly_the_domains_pending_states():
    assert set(PENDING) == {state.value for state in PENDING_STATES}
