"""Fixtures that more than one integration test module uses."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from tests.builders import NOW, add_external_system, add_responses

CASE_TYPE = "ET_Test"


@pytest.fixture
def seeded(engine) -> None:
    """System 43 (case type ET_Test) and responses 1 to 5."""
    seed_system_43(engine)


def seed_system_43(engine) -> None:
    with engine.begin() as connection:
        add_external_system(connection, 43)
        connection.execute(
            sa.insert(tables.external_system_configurations),
            {
                "external_system_id": 43,
                "key": "case_type_id",
                "value": CASE_TYPE,
                "can_read": True,
                "can_write": True,
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        add_responses(connection, range(1, 6))
