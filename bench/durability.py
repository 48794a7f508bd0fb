"""What a durable acknowledgement costs: accepted commands with durable commits against
the previous defaults (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit=off).

In this process, through the use case, one command after another, the two modes taking
turns (ABAB...) so that the machine's drift falls on both alike.
"""

from __future__ import annotations

import functools
import statistics
import time
import uuid

import sqlalchemy as sa
from attrs import frozen

from adapters.clock import SystemClock
from adapters.sql.engine import create_engine
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.export_responses import ExportResponsesDeps, export_responses
from bench import data
from domain.commands import ExportResponses

COMMANDS_PER_TURN = 100
TURNS = 12  # six of each mode


@frozen
class Durability:
    durable_ms: float  # median ms per accepted command, durable commits
    relaxed_ms: float  # the same with the previous defaults
    turns: int

    @property
    def cost(self) -> float:
        return self.durable_ms / self.relaxed_ms


def measure(url: str) -> Durability:
    engines = {"durable": create_engine(url), "relaxed": _relaxed(create_engine(url))}
    ids = iter(data.DURABILITY_IDS)
    timings: dict[str, list[float]] = {"durable": [], "relaxed": []}
    try:
        for turn in range(TURNS):
            mode = "durable" if turn % 2 == 0 else "relaxed"
            engine = engines[mode]
            deps = ExportResponsesDeps(
                functools.partial(SqlAlchemyUnitOfWork, engine), SystemClock(), lambda: str(uuid.uuid4())
            )
            started = time.perf_counter()
            for _ in range(COMMANDS_PER_TURN):
                command = ExportResponses(str(uuid.uuid4()), data.SYSTEM_ID, (next(ids),))
                assert export_responses(command, deps).accepted
            timings[mode].append((time.perf_counter() - started) * 1000 / COMMANDS_PER_TURN)
    finally:
        for engine in engines.values():
            engine.dispose()
    return Durability(statistics.median(timings["durable"]), statistics.median(timings["relaxed"]), TURNS)


def _relaxed(engine: sa.Engine) -> sa.Engine:
    @sa.event.listens_for(engine, "connect")
    def relax(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA synchronous=NORMAL")
        else:
            cursor.execute("SET synchronous_commit = off")
            dbapi_connection.commit()
        cursor.close()

    return engine
