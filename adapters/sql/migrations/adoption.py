"""Whether this run adopts the original ET API's database (see `adapters.sql.migrate`).

There, the original's tables already exist in the original's shape: the revisions that
built this service's first schema (0001-0004) do nothing, and 0005 adds only the
service's extra columns and indexes.
"""

from alembic import context


def adopting() -> bool:
    return bool(context.config.attributes.get("adopting", False))
