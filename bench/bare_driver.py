"""The database's own limit for the accepted path: one accepted command's statements,
captured from a real command, replayed through the bare driver in one process.

The capture runs one command through the use case as the service builds it (a reading
unit, then a writing one) and records every statement SQLAlchemy sends, with its
parameters, and every commit and rollback: on SQLite the read, then BEGIN IMMEDIATE and
the three inserts (the log row, the exports, their events) and the commit; on PostgreSQL
the read and the one statement that writes all three, each sent in autocommit (its own
transaction), so the commit and rollback steps send nothing there either. The replay sends the same statements
through `sqlite3` or `psycopg` directly, each iteration one command (its uuid and
response id fresh) and its commit, with the service's durability: SQLite in WAL with
synchronous=FULL, PostgreSQL with synchronous_commit=on. No SQLAlchemy, no pool, no
HTTP: what is left is what the database and the driver cost.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import psycopg
import sqlalchemy as sa
from attrs import frozen

from bench import data
from domain.commands import ExportResponses

Kind = Literal["execute", "commit", "rollback"]


@frozen
class Step:
    kind: Kind
    statement: str = ""
    parameters: Any = None
    autocommit: bool = False  # PostgreSQL: sent as its own transaction (the read, the accepting statement)


@frozen
class Script:
    """One accepted command's steps, and the values in them that change per command."""

    steps: tuple[Step, ...]
    command_uuid: str
    response_id: int

    def bind(self, command_uuid: str, response_id: int) -> list[Step]:
        """The steps for another command: its uuid and response id in place of the captured ones."""
        swap = _Substitution(self.command_uuid, command_uuid, self.response_id, response_id)
        return [
            Step(step.kind, step.statement, swap(step.parameters), step.autocommit) if step.kind == "execute" else step
            for step in self.steps
        ]

    @property
    def statements(self) -> int:
        return sum(step.kind == "execute" for step in self.steps)


class _Substitution:
    def __init__(self, old_uuid: str, new_uuid: str, old_id: int, new_id: int):
        # SQLite stores the uuid as 32 hex digits, PostgreSQL as text with hyphens.
        self.texts = {old_uuid: new_uuid, old_uuid.replace("-", ""): new_uuid.replace("-", "")}
        self.old_id, self.new_id = old_id, new_id
        self.id_pattern = re.compile(rf"(?<!\d){old_id}(?!\d)")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            for old, new in self.texts.items():
                value = value.replace(old, new)
            return self.id_pattern.sub(str(self.new_id), value)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return self.new_id if value == self.old_id else value
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, tuple | list):
            return type(value)(self(item) for item in value)
        return value  # datetimes, JSON wrappers without either value in them


def capture(url: str, response_id: int) -> Script:
    """Run one accepted command for `response_id` in process and record what it sent."""
    engine, deps = data.use_case(url)
    postgres = engine.dialect.name == "postgresql"
    steps: list[Step] = []

    def on_execute(conn, _cursor, statement, parameters, _context, many) -> None:
        if many:
            raise RuntimeError("an accepted command of one id was not expected to executemany")
        autocommit = postgres and conn.connection.dbapi_connection.autocommit
        steps.append(Step("execute", statement, parameters, autocommit))

    listeners = {
        "before_cursor_execute": on_execute,
        "commit": lambda _conn: steps.append(Step("commit")),
        "rollback": lambda _conn: steps.append(Step("rollback")),
    }
    command = ExportResponses(str(uuid.uuid4()), data.SYSTEM_ID, (response_id,))
    try:
        for name, listener in listeners.items():
            sa.event.listen(engine, name, listener)
        if not data.accept(deps, command):
            raise RuntimeError(f"the captured command was not accepted: response {response_id}")
    finally:
        engine.dispose()
    if not any(step.kind == "commit" for step in steps):
        raise RuntimeError("the captured command committed nothing")
    return Script(tuple(steps), command.uuid, response_id)


@frozen
class BareRun:
    commands: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.commands / self.seconds


def run(url: str, script: Script, response_ids: Sequence[int], seconds: float) -> BareRun:
    """Replay `script` for each of `response_ids` in turn until `seconds` have passed.

    The steps are bound a chunk at a time with the clock stopped: the time counted is
    the driver's work only. Every response must be free of a pending export
    (data.clear_exports before).
    """
    commands, elapsed = 0, 0.0
    with _connect(url) as connection:
        cursor = connection.cursor()
        for start in range(0, len(response_ids), _CHUNK):
            bound = [script.bind(str(uuid.uuid4()), one) for one in response_ids[start : start + _CHUNK]]
            started = time.perf_counter()
            for steps in bound:
                _replay(connection, cursor, steps)
                commands += 1
                if elapsed + time.perf_counter() - started >= seconds:
                    break
            elapsed += time.perf_counter() - started
            if elapsed >= seconds:
                break
        else:
            raise RuntimeError(f"{len(response_ids)} responses did not last {seconds} s: give the bare driver more")
        _check_queued(cursor, response_ids, commands)
    return BareRun(commands, elapsed)


_CHUNK = 200


def _replay(connection, cursor, steps: list[Step]) -> None:
    postgres = isinstance(connection, psycopg.Connection)
    for step in steps:
        if step.kind == "commit":
            connection.commit()
        elif step.kind == "rollback":
            connection.rollback()
        else:
            if postgres and connection.autocommit != step.autocommit:
                connection.autocommit = step.autocommit
            cursor.execute(step.statement, step.parameters)


def _check_queued(cursor, response_ids: Sequence[int], commands: int) -> None:
    """Each replayed command queued its export: the replay did the work, not a no-op."""
    placeholder = "%s" if isinstance(cursor, psycopg.Cursor) else "?"
    cursor.execute(
        f"SELECT count(*) FROM exports WHERE resource_id BETWEEN {placeholder} AND {placeholder}",
        (min(response_ids), max(response_ids)),
    )
    (queued,) = cursor.fetchone()
    if queued != commands:
        raise RuntimeError(f"the bare driver replayed {commands} commands but {queued} exports are queued")


@contextlib.contextmanager
def _connect(url: str) -> Iterator[sqlite3.Connection | psycopg.Connection]:
    parsed = sa.make_url(url)
    connection: sqlite3.Connection | psycopg.Connection
    if parsed.get_backend_name() == "sqlite":
        # As adapters/sql/engine.py sets up its connections: transactions begun by the
        # statements themselves (BEGIN IMMEDIATE is one of the captured steps).
        connection = sqlite3.connect(str(parsed.database), isolation_level=None)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=FULL", "busy_timeout=5000"):
            connection.execute(f"PRAGMA {pragma}")
    else:
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(conninfo, options="-c synchronous_commit=on")
    try:
        yield connection
    finally:
        connection.close()
