"""Alembic environment: always run through `adapters.sql.migrate`, which passes the connection
(or, for `migrate --dry-run`, the dialect and a buffer to print the statements into)."""

from alembic import context

from adapters.sql.tables import metadata

attributes = context.config.attributes
if context.is_offline_mode():
    context.configure(
        dialect_name=attributes["dialect_name"],
        output_buffer=attributes["output_buffer"],
        target_metadata=metadata,
        literal_binds=True,
        transactional_ddl=True,
    )
else:
    context.configure(connection=attributes["connection"], target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
