"""Fixtures that more than one integration test module uses."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from adapters.clock import FixedClock
from adapters.memory.ccd import InMemoryCcdGateway
from adapters.sql import tables
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.carry_out_exports import ExportWorkDeps
from domain.retries import RetrySchedule
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


# The worker's use cases on SQL: systems 43 and 60 (remote offices, both ET_Test), responses 1 to 40.
@pytest.fixture
def clock():
    return FixedClock(NOW + timedelta(hours=1))


@pytest.fixture
def ccd():
    return InMemoryCcdGateway()


@pytest.fixture
def deps(engine, ccd, clock):
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_external_system(connection, 60, reference="reform", response_remote_office=True)
        connection.execute(
            sa.insert(tables.external_system_configurations),
            [
                {
                    "external_system_id": system_id,
                    "key": "case_type_id",
                    "value": "ET_Test",
                    "can_read": True,
                    "can_write": True,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for system_id in (43, 60)
            ],
        )
        add_responses(connection, range(1, 41))
    counter = itertools.count()
    return ExportWorkDeps(
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        ccd=ccd,
        clock=clock,
        new_uuid=lambda: str(uuid.UUID(int=next(counter))),
        retries=RetrySchedule((10.0,)),
        claim_seconds=60,
        pause=lambda seconds: None,
    )
