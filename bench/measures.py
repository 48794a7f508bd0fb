"""The six measurements of a run, each on one database."""

from __future__ import annotations

import statistics
import uuid

import requests
import sqlalchemy as sa
from attrs import frozen

from adapters.sql import tables
from bench import data
from bench.load import Load, run_wrk
from bench.processes import TOKEN, fake_ccd, run_worker

BATCH_SIZES = (1, 100, 1_000, 10_000)
HTTP_TIMEOUT = (5, 120)
CCD_LATENCY = 0.020
WORKER_LEVELS = {1: 100, 4: 400, 16: 1_600}  # concurrency: exports, about 2 s of ideal work each
WORKER_RUNS = 3  # the target holds "in every one of three runs"
REPLAY_UUID = "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"
REPLAY_RESPONSE = data.BATCH_IDS[-1]
_PATH = "/api/v2/exports/export_responses"


WARM_UP_SECONDS = 3


def warm_up(base: str) -> None:
    """Load a fresh server until every gunicorn worker has booted and run each code path once."""
    run_wrk(base + _PATH, WARM_UP_SECONDS, "rejected", TOKEN)


def ceiling(base: str, seconds: int) -> Load:
    return run_wrk(base + _PATH, seconds, "ceiling", TOKEN)


def rejected(base: str, seconds: int) -> Load:
    return _checked(run_wrk(base + _PATH, seconds, "rejected", TOKEN), expect_2xx=False)


def accepted(base: str, url: str, seconds: int) -> Load:
    """Commands for responses with no export yet: the exports of earlier runs are cleared
    first (off the clock), so that every run queues new exports into tables of one size."""
    data.clear_exports(url)
    first = str(data.ACCEPTED_IDS[0])
    return _checked(run_wrk(base + _PATH, seconds, "accepted", TOKEN, str(data.SYSTEM_ID), first), expect_2xx=True)


def replay(base: str, seconds: int) -> Load:
    first = _post(base, REPLAY_UUID, [REPLAY_RESPONSE])
    assert first.status_code == 202, first.text
    load = run_wrk(base + _PATH, seconds, "replay", TOKEN, str(data.SYSTEM_ID), str(REPLAY_RESPONSE), REPLAY_UUID)
    return _checked(load, expect_2xx=True)


def _checked(load: Load, expect_2xx: bool) -> Load:
    """The run answered as the scenario expects, or its figures mean nothing."""
    wrong = load.non_2xx if expect_2xx else load.requests - load.non_2xx
    if wrong or load.socket_errors:
        raise RuntimeError(f"unexpected replies: {wrong} of {load.requests}, {load.socket_errors} socket errors")
    return load


def _post(base: str, command_uuid: str, response_ids: list[int]) -> requests.Response:
    body = {
        "uuid": command_uuid,
        "command": "ExportResponses",
        "data": {"external_system_id": data.SYSTEM_ID, "response_ids": response_ids},
    }
    return requests.post(base + _PATH, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=HTTP_TIMEOUT)


@frozen
class Batch:
    size: int
    server_ms: float  # the median command's
    statements: int
    fastest_ms: float
    slowest_ms: float
    repeats: int


def batch_scaling(base: str, url: str, repeats: int = 3) -> list[Batch]:
    """Server time (median X-Runtime over HTTP) and SQL statements (counted in process) per batch size.

    The sizes take turns, round after round, so that a slow spell of this shared machine
    falls on all of them rather than on the three commands of one size.
    """
    ids = iter(data.BATCH_IDS)
    engine, deps = data.use_case(url)
    times: dict[int, list[float]] = {size: [] for size in BATCH_SIZES}
    for _ in range(repeats):
        for size in BATCH_SIZES:
            reply = _post(base, str(uuid.uuid4()), [next(ids) for _ in range(size)])
            assert reply.status_code == 202, reply.text
            times[size].append(float(reply.headers["X-Runtime"]) * 1000)
    results = []
    for size in BATCH_SIZES:
        statements: list[str] = []

        def count(conn, cursor, statement, *rest, statements: list[str] = statements) -> None:
            statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        data.queue(deps, [next(ids) for _ in range(size)])
        sa.event.remove(engine, "before_cursor_execute", count)
        ms = times[size]
        results.append(Batch(size, statistics.median(ms), len(statements), min(ms), max(ms), len(ms)))
    engine.dispose()
    return results


@frozen
class Throughput:
    concurrency: int
    exports: int
    seconds: float
    round: int  # 1 to WORKER_RUNS

    @property
    def per_second(self) -> float:
        return self.exports / self.seconds

    @property
    def ideal(self) -> float:
        return self.concurrency / CCD_LATENCY

    @property
    def fraction(self) -> float:
        return self.per_second / self.ideal


def worker_throughput(url: str, folder) -> list[Throughput]:
    """Exports per second of `worker --concurrency N` against a fake CCD answering in 20 ms,
    WORKER_RUNS runs a level. The levels take turns, round after round, so that a slow
    spell of this shared machine falls on all of them rather than on one level's runs;
    each run starts from an empty queue (the exports of the one before cleared, off the clock)."""
    engine, deps = data.use_case(url)
    results = []
    with fake_ccd(url, CCD_LATENCY, folder) as ccd:
        for round_ in range(1, WORKER_RUNS + 1):
            for concurrency, count in WORKER_LEVELS.items():
                data.clear_exports(url)
                command_uuid = data.queue(deps, data.WORKER_IDS[:count])
                run_worker(url, ccd.variables, concurrency, folder)
                results.append(Throughput(concurrency, count, _busy_seconds(engine, command_uuid, count), round_))
    engine.dispose()
    return results


def _busy_seconds(engine: sa.Engine, command_uuid: str, count: int) -> float:
    """From the first attempt's start to the last export's completion, as the events record them."""
    events, exports = tables.export_events, tables.exports
    query = (
        sa.select(
            sa.func.min(events.c.created_at).filter(events.c.state == "in_progress"),
            sa.func.max(events.c.created_at).filter(events.c.state == "complete"),
            sa.func.count().filter(events.c.state == "complete"),
        )
        .join(exports, exports.c.id == events.c.export_id)
        .where(exports.c.command_uuid == command_uuid)
    )
    with engine.connect() as connection:
        first, last, completed = connection.execute(query).one()
    if completed != count:
        raise RuntimeError(f"{completed} of {count} exports completed")
    return (last - first).total_seconds()
