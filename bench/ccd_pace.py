"""Exports at CCD's pace: 2,000 exports drained by 4 worker processes against a fake CCD
that answers in 200 ms and refuses calls beyond 50 a second with 429 (CCD's gateway
limits its callers so). The ideal is the limit itself: 2,000 / 50 = 40 s.

The workers run with the production retry schedule (the original's: 15 s and more), so
an export charged for a 429 and retried on the schedule would show in the drain time.
A 429 is not charged: the system's throttle (domain/throttling.py) pauses and paces it.
While the queue drains, single exports to a second system are queued now and then: the
time from their commit to their claim is the pickup latency of a new export.
`--drain` ends a worker once nothing is due; should exports still wait out a retry,
the workers are started again (each start is counted, the gap is in the drain time).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from attrs import frozen

from adapters.clock import SystemClock
from adapters.sql import tables
from application.export_responses import ExportResponsesDeps
from bench import data
from bench.processes import fake_ccd, start_worker, stop, wait_for_cpu, worker_environment
from domain.commands import ExportResponses
from tests.builders import add_case_type, add_external_system

EXPORTS = 2_000
LATENCY = 0.200
RATE_LIMIT = 50
WORKERS = 4
CONCURRENCY = 4  # each worker's default
RETRY_DELAYS = None  # the production schedule
MAX_STARTS = 10  # of the four workers, before the scenario gives up
DEADLINE_SECONDS = 600
# The new exports: to their own system, so that they queue behind none of the 2,000.
PICKUP_SYSTEM_ID = 2
PICKUP_CASE_TYPE = "Glasgow_Dev"
PICKUP_AFTER_SECONDS = 5.0  # once the throttle has learnt the pace
PICKUP_GAP_SECONDS = (0.5, 1.5)
PICKUPS = 25


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
    pickups_ms: tuple[float, ...]  # commit of a new export to its claim, while the queue drained

    @property
    def ideal_seconds(self) -> float:
        return self.exports / RATE_LIMIT

    @property
    def fraction_of_ideal(self) -> float:
        return self.ideal_seconds / self.seconds

    @property
    def cpu_ms_per_export(self) -> float:
        return self.worker_cpu_seconds * 1000 / self.exports

    @property
    def pickup_median_ms(self) -> float:
        return statistics.median(self.pickups_ms)

    @property
    def pickup_p95_ms(self) -> float:
        ordered = sorted(self.pickups_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def pickup_max_ms(self) -> float:
        return max(self.pickups_ms)


def measure(url: str, folder: Path) -> CcdPace:
    data.clear_exports(url)
    engine, deps = data.use_case(url)
    try:
        _second_system(engine)
        command_uuid = data.queue(deps, data.CCD_PACE_IDS[:EXPORTS])
        with fake_ccd(url, LATENCY, folder, rate_limit=RATE_LIMIT) as ccd:
            env = worker_environment(url, ccd.variables, RETRY_DELAYS)
            prober = _Pickups(deps)
            cpu, starts = _drain(engine, command_uuid, env, folder, prober)
        served = ccd.served()
        return _outcome(engine, command_uuid, cpu, starts, served, prober.latencies(engine))
    finally:
        engine.dispose()


def _second_system(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        if (
            connection.scalar(
                sa.select(tables.external_systems.c.id).where(tables.external_systems.c.id == PICKUP_SYSTEM_ID)
            )
            is None
        ):
            add_external_system(connection, PICKUP_SYSTEM_ID, name="CCD Glasgow", reference="ccd_glasgow")
            add_case_type(connection, PICKUP_SYSTEM_ID, PICKUP_CASE_TYPE)


class _Pickups:
    """Queues one export to the second system now and then, from PICKUP_AFTER_SECONDS
    into the drain until it stops or PICKUPS are queued; remembers when each committed."""

    def __init__(self, deps: ExportResponsesDeps):
        self.deps = deps
        self.committed: dict[str, datetime] = {}  # command uuid -> when its 202 would have left
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pickups", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        if self.stopping.wait(PICKUP_AFTER_SECONDS):
            return
        for response_id in data.CCD_PACE_IDS[:PICKUPS]:
            command_uuid = str(uuid.uuid4())
            command = ExportResponses(command_uuid, PICKUP_SYSTEM_ID, (response_id,))
            if not data.accept(self.deps, command):
                raise RuntimeError("a pickup command was refused")
            self.committed[command_uuid] = datetime.now(UTC)
            if self.stopping.wait(random.uniform(*PICKUP_GAP_SECONDS)):
                return

    def latencies(self, engine: sa.Engine) -> tuple[float, ...]:
        events, exports = tables.export_events, tables.exports
        claimed = (
            sa.select(exports.c.command_uuid, sa.func.min(events.c.created_at))
            .join(events, events.c.export_id == exports.c.id)
            .where(exports.c.command_uuid.in_(list(self.committed)), events.c.state == "in_progress")
            .group_by(exports.c.command_uuid)
        )
        with engine.connect() as connection:
            rows = connection.execute(claimed).all() if self.committed else []
        return tuple(
            (claimed_at.replace(tzinfo=UTC) - self.committed[str(command)]).total_seconds() * 1000
            for command, claimed_at in rows
        )


def _drain(
    engine: sa.Engine, command_uuid: str, env: dict[str, str], folder: Path, prober: _Pickups
) -> tuple[float, int]:
    """Start the workers until every export is final; their CPU seconds, and how many starts."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    cpu = 0.0
    for start in range(1, MAX_STARTS + 1):
        logs = [folder / f"ccd-pace-worker-{start}-{number}.log" for number in range(WORKERS)]
        workers = [start_worker(env, CONCURRENCY, log) for log in logs]
        if start == 1:
            prober.start()
        try:
            for worker, log in zip(workers, logs, strict=True):
                cpu += wait_for_cpu(worker, deadline)
                if worker.returncode != 0:
                    raise RuntimeError(f"a worker exited {worker.returncode}:\n{log.read_text()[-3000:]}")
        finally:
            prober.stop()
            for worker in workers:
                stop(worker)  # those not waited for, after a failure
        waiting, due = _not_final(engine, command_uuid)
        if not waiting:
            return cpu, start
        # Some wait out a retry (a failure other than a 429): start the workers again then.
        if due is not None:
            time.sleep(min(60.0, max(0.0, (due - SystemClock().now()).total_seconds())))
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


def _outcome(
    engine: sa.Engine,
    command_uuid: str,
    cpu: float,
    starts: int,
    served: dict[str, int],
    pickups_ms: tuple[float, ...],
) -> CcdPace:
    events, exports = tables.export_events, tables.exports
    final = events.c.state.in_(("complete", "failed"))
    timing = (
        sa.select(
            sa.func.min(events.c.created_at).filter(events.c.state == "in_progress"),
            sa.func.max(events.c.created_at).filter(final),
            # The error is in the event's data: "CCD data store answered 429 (...) to the ..."
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
    if not pickups_ms:
        raise RuntimeError("no new export was queued while the queue drained")
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
        pickups_ms=pickups_ms,
    )
