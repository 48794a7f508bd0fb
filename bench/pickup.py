"""Instant pickup: from the 202 of an accepted command to the worker's claim of its export.

A service and a worker (polling every second, as by default, with the listener of
adapters/sql/queue_signals.py) run as processes against a fake CCD; commands of one
response each are sent one at a time, a random 100 to 300 ms apart, so that the worker
is idle when each arrives (with every slot busy, a worker claims when one frees).
The claim time is the export's `in_progress` event, stamped by the
worker's clock when it claimed (the same machine's clock as the client's).

On PostgreSQL it also measures what the notification costs the accepting path:
accepted commands in this process with the queuing statement as it is (pg_notify in
it) and without it, taking turns.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime

import requests
import sqlalchemy as sa
from attrs import frozen

from adapters.sql import repositories, tables
from adapters.sql.engine import create_engine
from application.export_responses import export_responses
from bench import data
from bench.context import Context
from bench.processes import TOKEN, fake_ccd, start_listening_worker, stop
from domain.commands import ExportResponses

COMMANDS = 60
NOTIFY_COMMANDS_PER_TURN = 100
NOTIFY_TURNS = 12
_PATH = "/api/v2/exports/export_responses"


@frozen
class Pickup:
    latencies_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@frozen
class NotifyCost:
    with_ms: float  # median ms per accepted command, pg_notify in the queuing statement
    without_ms: float

    @property
    def cost(self) -> float:
        return self.with_ms / self.without_ms


def pickup(context: Context) -> Pickup:
    """The service as it runs by default and one worker beside it, on the context's database."""
    base, url, folder = context.service(), context.url, context.folder
    with fake_ccd(url, 0.0, folder) as ccd:
        worker = start_listening_worker(url, ccd.variables, folder, "--concurrency", "4")
        try:
            _wait_for_listener(worker)
            answered = _send(base, COMMANDS)
            claimed = _claims(url, answered, worker)
        finally:
            stop(worker)
    return Pickup(tuple((claimed[command] - at) * 1000 for command, at in answered.items()))


def _send(base: str, commands: int) -> dict[str, float]:
    """Each command's uuid, and when its 202 arrived (epoch seconds)."""
    ids = iter(data.PICKUP_IDS)
    answered = {}
    with requests.Session() as session:
        for _ in range(commands):
            command_uuid = str(uuid.uuid4())
            body = {
                "uuid": command_uuid,
                "command": "ExportResponses",
                "data": {"external_system_id": data.SYSTEM_ID, "response_ids": [next(ids)]},
            }
            reply = session.post(base + _PATH, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            answered[command_uuid] = time.time()
            assert reply.status_code == 202, reply.text
            time.sleep(random.uniform(0.1, 0.3))
    return answered


def _claims(url: str, answered: dict[str, float], worker, wait_seconds: float = 30) -> dict[str, float]:
    """When the worker claimed each command's export: its first `in_progress` event."""
    engine = create_engine(url)
    query = (
        sa.select(tables.exports.c.command_uuid, sa.func.min(tables.export_events.c.created_at))
        .join(tables.export_events, tables.export_events.c.export_id == tables.exports.c.id)
        .where(tables.export_events.c.state == "in_progress", tables.exports.c.command_uuid.in_(list(answered)))
        .group_by(tables.exports.c.command_uuid)
    )
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            with engine.connect() as connection:
                rows = connection.execute(query).all()
            if len(rows) == len(answered):
                return {str(command): _epoch(at) for command, at in rows}
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"only {len(rows)} of {len(answered)} exports were claimed")
            time.sleep(0.2)
    finally:
        engine.dispose()


def _epoch(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _wait_for_listener(worker, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while "queue_listener_ready" not in worker.log_path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not listen:\n{worker.log_path.read_text()[-3000:]}")
        time.sleep(0.1)


def notify_cost(context: Context) -> NotifyCost:
    """Accepted commands with pg_notify in the queuing statement and without, taking turns."""
    engine, deps = data.use_case(context.url)
    with_notify = repositories.ACCEPT["postgresql"]
    # The same statement without the notification: what the accepting path cost before.
    without_notify = repositories._driver_statements(repositories._queue("postgresql", notify=False, log=True))
    ids = iter(data.NOTIFY_IDS)
    timings: dict[bool, list[float]] = {True: [], False: []}
    try:
        for turn in range(NOTIFY_TURNS):
            notifying = turn % 2 == 0
            repositories.ACCEPT["postgresql"] = with_notify if notifying else without_notify
            started = time.perf_counter()
            for _ in range(NOTIFY_COMMANDS_PER_TURN):
                command = ExportResponses(str(uuid.uuid4()), data.SYSTEM_ID, (next(ids),))
                assert export_responses(command, deps).accepted
            timings[notifying].append((time.perf_counter() - started) * 1000 / NOTIFY_COMMANDS_PER_TURN)
    finally:
        repositories.ACCEPT["postgresql"] = with_notify
        engine.dispose()
    return NotifyCost(statistics.median(timings[True]), statistics.median(timings[False]))
