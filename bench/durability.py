"""What a durable acknowledgement costs: accepted commands with durable commits against
the previous defaults (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit=off).

In this process, through the use case, one command after another: a turn of each mode
makes a pair (bench/pairs.py), the order alternating, so that the machine's drift falls
on both alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from attrs import frozen

from adapters.sql.engine import create_engine
from bench import data
from bench.context import Context
from bench.pairs import Paired, run_pair
from domain.commands import ExportResponses

COMMANDS_PER_TURN = 50
PAIRS = 6
QUICK = (20, 2)  # commands a turn, pairs


@frozen
class Turn:
    commands: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.commands / self.seconds

    @property
    def ms_per_command(self) -> float:
        return self.seconds * 1000 / self.commands


def measure(context: Context) -> Paired:
    """Pairs of (durable turn, relaxed turn); the ratio is durable's rate over relaxed's."""
    commands, pairs = QUICK if context.options.quick else (COMMANDS_PER_TURN, PAIRS)
    if 2 * commands * pairs > len(data.DURABILITY_IDS):
        raise ValueError("not enough responses seeded for the durability turns")
    ids = iter(data.DURABILITY_IDS)
    durable, deps_durable = data.use_case(context.url)
    relaxed, deps_relaxed = data.use_case(context.url, _relaxed(create_engine(context.url)))
    try:
        found = [
            run_pair(index, lambda: _turn(deps_durable, ids, commands), lambda: _turn(deps_relaxed, ids, commands))
            for index in range(pairs)
        ]
    finally:
        durable.dispose()
        relaxed.dispose()
    return Paired("durable", "relaxed", tuple(found))


def _turn(deps, ids: Iterator[int], commands: int) -> Turn:
    started = time.perf_counter()
    for _ in range(commands):
        if not data.accept(deps, ExportResponses(str(uuid.uuid4()), data.SYSTEM_ID, (next(ids),))):
            raise RuntimeError("a durability turn's command was refused")
    return Turn(commands, time.perf_counter() - started)


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
