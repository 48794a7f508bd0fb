"""The databases a run measures, migrated and seeded: SQLite in a file, PostgreSQL in a throwaway cluster."""

from __future__ import annotations

import contextlib
import uuid
from functools import partial
from pathlib import Path

import sqlalchemy as sa

from adapters.clock import SystemClock
from adapters.sql import migrate, tables
from adapters.sql.accepting import DriverAcceptingUnit
from adapters.sql.engine import create_engine
from adapters.sql.reading import DriverReadingUnit, ReadingConnections
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from domain.commands import ExportResponses
from tests.builders import add_case_type, add_external_system, add_responses
from tests.postgres import Cluster

SYSTEM_ID = 1
CASE_TYPE = "Manchester_Dev"
# Response ids by use, so that no measurement finds another's exports pending.
ACCEPTED_BLOCK = 2 * 10_000  # two wrk threads, a block of 10,000 each (BLOCK in wrk/command.lua)
# Every accepted run (and the bare driver's) uses this block, the exports cleared before it.
ACCEPTED_IDS = range(1, ACCEPTED_BLOCK + 1)
BATCH_IDS = range(100_001, 150_001)
WORKER_IDS = range(200_001, 205_001)
DURABILITY_IDS = range(300_001, 302_401)
CCD_PACE_IDS = range(310_001, 312_001)
# The bare driver's own, so that its check counts none of a late accepted request's exports.
BARE_DRIVER_IDS = range(400_001, 420_001)
# The response of the command bench/bare_driver.py captures: digits found nowhere else
# in a command's parameters (a timestamp's microseconds have six).
CAPTURE_ID = 987_654_321
PICKUP_IDS = range(420_001, 420_201)
NOTIFY_IDS = range(430_001, 432_401)


@contextlib.contextmanager
def database(kind: str, folder: Path):
    """A migrated, seeded database of `kind` ("sqlite" or "postgresql"); yields its URL."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        seed(url)
        yield url
        return
    cluster = Cluster(durable=True).start()  # fsync on, as in production: commits cost what they cost
    try:
        url = cluster.create_database("bench")
        seed(url)
        yield url
    finally:
        cluster.stop()


def seed(url: str) -> None:
    """Migrate `url` and seed the benchmark's external system and responses."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        add_external_system(connection, SYSTEM_ID, name="CCD Manchester", reference="ccd_manchester")
        add_case_type(connection, SYSTEM_ID, CASE_TYPE)
        for ids in (
            ACCEPTED_IDS,
            BATCH_IDS,
            WORKER_IDS,
            DURABILITY_IDS,
            CCD_PACE_IDS,
            BARE_DRIVER_IDS,
            [CAPTURE_ID],
            PICKUP_IDS,
            NOTIFY_IDS,
        ):
            add_responses(connection, ids)
    engine.dispose()


def use_case(url: str, engine: sa.Engine | None = None) -> tuple[sa.Engine, ExportResponsesDeps]:
    """The accepting use case on `url` (or `engine`), in this process, with its units as the
    service builds them (entrypoints/bootstrap.py): for statement counts, captures and queueing."""
    engine = engine or create_engine(url)
    connections = ReadingConnections(engine)
    sa.event.listen(engine, "engine_disposed", lambda _engine: connections.close())
    deps = ExportResponsesDeps(
        lambda: SqlAlchemyUnitOfWork(engine),
        SystemClock(),
        lambda: str(uuid.uuid4()),
        reading=partial(DriverReadingUnit, engine, connections),
        accepting=partial(DriverAcceptingUnit, engine, connections),
    )
    return engine, deps


def accept(deps: ExportResponsesDeps, command: ExportResponses) -> bool:
    return export_responses(command, deps).accepted


def queue(deps: ExportResponsesDeps, response_ids) -> str:
    command_uuid = str(uuid.uuid4())
    if not accept(deps, ExportResponses(command_uuid, SYSTEM_ID, tuple(response_ids))):
        raise RuntimeError("the benchmark's command to queue exports was refused")
    return command_uuid


def clear_exports(url: str) -> None:
    """Forget the exports the HTTP scenarios queued: the worker is measured on its own batches."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.delete(tables.export_events))
        connection.execute(sa.delete(tables.exports))
    engine.dispose()
