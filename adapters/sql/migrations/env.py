"""Alembic environment: always run through `adapters.sql.migrate`, which passes the connection."""

from alembic import context

from adapters.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
