"""Exports at CCD's pace: 2,000 exports drained by 4 worker processes against a fake CCD
that answers in 200 ms and refuses calls beyond 50 a second with 429 (CCD's gateway
limits its callers so). The ideal is the limit itself: 2,000 / 50 = 40 s.

It measures the workers as they are: today a 429 is a failed attempt like any other,
charged to the export and retried on the schedule (EXPORT_RETRY_DELAYS, here 1 s, eight
times). `--drain` ends a worker once nothing is due, which can leave exports waiting out
their retry delay: the workers are started again then (each start is counted and the
time between them is in the drain time, since an operator would see it so).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from attrs import frozen

from adapters.clock import SystemClock
from adapters.sql import tables
from bench import data
from bench.processes import fake_ccd, start_worker, stop, wait_for_cpu, worker_environment

EXPORTS = 2_000
LATENCY = 0.200
RATE_LIMIT = 50
WORKERS = 4
CONCURRENCY = 4  # each worker's default
RETRY_DELAYS = ",".join(["1"] * 8)
MAX_STARTS = 10  # of the four workers, before the scenario gives up
DEADLINE_SECONDS = 600


@frozen
class CcdPace:
    exports: int
    complete: int
    failed: int
    seconds: float  # first attempt started to last export final, from the events
    attempts: int  # charged to the exports (exports.attempts)
    attempts_refused: int  # attempts that ended erroring on a 429
    calls: int  # requests the fake CCD received, refused ones included
    rate_limited: int  # of them answered 429
    worker_cpu_seconds: float  # user + system, every worker process of every start
    starts: int

    @property
    def ideal_seconds(self) -> float:
        return self.exports / RATE_LIMIT

    @property
    def fraction_of_ideal(self) -> float:
        return self.ideal_seconds / self.seconds

    @property
    def cpu_ms_per_export(self) -> float:
        return self.worker_cpu_seconds * 1000 / self.exports


def measure(url: str, folder: Path) -> CcdPace:
    data.clear_exports(url)
    engine, deps = data.use_case(url)
    try:
        command_uuid = data.queue(deps, data.CCD_PACE_IDS[:EXPORTS])
        with fake_ccd(url, LATENCY, folder, rate_limit=RATE_LIMIT) as ccd:
            env = worker_environment(url, ccd.variables, RETRY_DELAYS)
            cpu, starts = _drain(engine, command_uuid, env, folder)
        served = ccd.served()
        return _outcome(engine, command_uuid, cpu, starts, served)
    finally:
        engine.dispose()


def _drain(engine: sa.Engine, command_uuid: str, env: dict[str, str], folder: Path) -> tuple[float, int]:
    """Start the workers until every export is final; their CPU seconds, and how many starts."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    cpu = 0.0
    for start in range(1, MAX_STARTS + 1):
        logs = [folder / f"ccd-pace-worker-{start}-{number}.log" for number in range(WORKERS)]
        workers = [start_worker(env, CONCURRENCY, log) for log in logs]
        try:
            for worker, log in zip(workers, logs, strict=True):
                cpu += wait_for_cpu(worker, deadline)
                if worker.returncode != 0:
                    raise RuntimeError(f"a worker exited {worker.returncode}:\n{log.read_text()[-3000:]}")
        finally:
            for worker in workers:
                stop(worker)  # those not waited for, after a failure
        waiting, due = _not_final(engine, command_uuid)
        if not waiting:
            return cpu, start
        # The next is due within a retry delay (1 s): start the workers again then.
        if due is not None:
            time.sleep(min(1.0, max(0.0, (due - SystemClock().now()).total_seconds())))
    raise RuntimeError(f"exports were still not final after {MAX_STARTS} starts of the workers")


def _not_final(engine: sa.Engine, command_uuid: str) -> tuple[int, datetime | None]:
    """How many exports are not final yet, and when the first of them is due."""
    exports = tables.exports
    query = sa.select(sa.func.count(), sa.func.min(exports.c.next_attempt_at)).where(
        exports.c.command_uuid == command_uuid, exports.c.state.not_in(("complete", "failed"))
    )
    with engine.connect() as connection:
        count, due = connection.execute(query).one()
    return count, due


def _outcome(engine: sa.Engine, command_uuid: str, cpu: float, starts: int, served: dict[str, int]) -> CcdPace:
    events, exports = tables.export_events, tables.exports
    final = events.c.state.in_(("complete", "failed"))
    timing = (
        sa.select(
            sa.func.min(events.c.created_at).filter(events.c.state == "in_progress"),
            sa.func.max(events.c.created_at).filter(final),
            # The error is in the event's data: "CCD data store answered 429 to the ..."
            sa.func.count().filter(events.c.state == "erroring", sa.cast(events.c.data, sa.Text).contains(" 429 ")),
        )
        .join(exports, exports.c.id == events.c.export_id)
        .where(exports.c.command_uuid == command_uuid)
    )
    states = (
        sa.select(
            sa.func.count().filter(exports.c.state == "complete"),
            sa.func.count().filter(exports.c.state == "failed"),
            sa.func.coalesce(sa.func.sum(exports.c.attempts), 0),
        )
    ).where(exports.c.command_uuid == command_uuid)
    with engine.connect() as connection:
        first, last, refused = connection.execute(timing).one()
        complete, failed, attempts = connection.execute(states).one()
    if complete + failed != EXPORTS:
        raise RuntimeError(f"{complete} complete and {failed} failed of {EXPORTS} exports")
    return CcdPace(
        exports=EXPORTS,
        complete=complete,
        failed=failed,
        seconds=(last - first).total_seconds(),
        attempts=int(attempts),
        attempts_refused=refused,
        calls=served["FAKE_CCD_CALLS"],
        rate_limited=served["FAKE_CCD_RATE_LIMITED"],
        worker_cpu_seconds=cpu,
        starts=starts,
    )
