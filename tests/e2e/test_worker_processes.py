"""Real `export-responses worker` processes against the fake CCD over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.engine import create_engine
from domain.commands import ExportResponses
from tests.builders import add_case_type, add_external_system, add_responses
from tests.databases import services_on
from tests.e2e.conftest import REPO_ROOT
from tests.pgbouncer import service_environment

pytestmark = pytest.mark.e2e
CASE_TYPE = "Manchester_Dev"


@pytest.fixture
def prepared(engine):
    return _prepare(engine)


def queue_exports(engine, response_ids) -> None:
    with engine.begin() as connection:
        add_responses(connection, response_ids)
    handle = services_on(engine).handle_export_responses
    assert handle(ExportResponses(str(uuid.uuid4()), 43, tuple(response_ids))).accepted


def start_worker(database_url, fake_ccd, tmp_path, *arguments, **env_overrides) -> subprocess.Popen:
    env = {
        **os.environ,
        **fake_ccd.base_urls,
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        "EXPORT_RETRY_DELAYS": "0.2,0.2",
        **service_environment(database_url),
        **env_overrides,
    }
    log_path = tmp_path / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "worker", *arguments],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = log_path
    return process


def finish(process: subprocess.Popen, timeout=120) -> None:
    try:
        assert process.wait(timeout=timeout) == 0, _output(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def _output(process) -> str:
    return process.log_path.read_text(errors="replace")


def export_summary(engine):
    with engine.connect() as connection:
        states = dict(
            connection.execute(
                sa.select(tables.exports.c.state, sa.func.count()).group_by(tables.exports.c.state)
            ).all()
        )
        completes = connection.execute(
            sa.select(tables.export_events.c.export_id, sa.func.count())
            .where(tables.export_events.c.state == "complete")
            .group_by(tables.export_events.c.export_id)
        ).all()
    return states, completes


@pytest.mark.postgres
def test_four_workers_on_postgres_complete_500_exports_once_each(postgres_url, fake_ccd, tmp_path):
    engine = create_engine(postgres_url)
    prepared_engine = _prepare(engine)
    ids = range(1, 501)
    for rid in ids[::2]:
        fake_ccd.add_case(CASE_TYPE, f"24{rid % 100000:05d}/2024", "Manchester")
    queue_exports(prepared_engine, ids)
    workers = [start_worker(postgres_url, fake_ccd, tmp_path, "--drain", "--concurrency", "4") for _ in range(4)]
    for worker in workers:
        finish(worker)
    states, completes = export_summary(engine)
    assert states == {"complete": 500}
    assert len(completes) == 500 and {count for _, count in completes} == {1}
    assert fake_ccd.calls_to("/idam/loginUser") <= 4 + 4  # one login per process, a retry at most
    engine.dispose()


def _prepare(engine):
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_case_type(connection, 43, CASE_TYPE)
    return engine


def test_two_workers_share_one_database(prepared, database_url, fake_ccd, tmp_path):
    queue_exports(prepared, range(1, 101))
    workers = [start_worker(database_url, fake_ccd, tmp_path, "--drain", "--concurrency", "4") for _ in range(2)]
    for worker in workers:
        finish(worker)
    states, completes = export_summary(prepared)
    assert states == {"complete": 100}
    assert {count for _, count in completes} == {1}


def wait_for(condition, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_killed_mid_export_loses_nothing(prepared, database_url, fake_ccd, tmp_path):
    queue_exports(prepared, [7])
    fake_ccd.delay_next(30, stage="data")  # the first search hangs: the worker is killed in it
    doomed = start_worker(database_url, fake_ccd, tmp_path, EXPORT_CLAIM_SECONDS="1")
    wait_for(lambda: fake_ccd.calls_to("/data_store") >= 1)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    time.sleep(1.1)  # the dead worker's claim expires
    finish(start_worker(database_url, fake_ccd, tmp_path, "--drain", EXPORT_CLAIM_SECONDS="1"))
    states, completes = export_summary(prepared)
    assert states == {"complete": 1} and [count for _, count in completes] == [1]
    with prepared.connect() as connection:
        assert connection.execute(sa.select(tables.exports.c.attempts)).scalar_one() == 2


def test_sigterm_lets_the_worker_finish_the_export_in_hand(prepared, database_url, fake_ccd, tmp_path):
    queue_exports(prepared, [8])
    fake_ccd.delay_next(1.5, stage="data")
    worker = start_worker(database_url, fake_ccd, tmp_path)
    wait_for(lambda: fake_ccd.calls_to("/data_store") >= 1)
    os.killpg(worker.pid, signal.SIGTERM)
    finish(worker, timeout=30)
    states, _ = export_summary(prepared)
    assert states == {"complete": 1}
    assert "worker stopped: 1 complete" in _output(worker)


CIRCUIT = {"CIRCUIT_FIRST_PROBE_SECONDS": "0.2", "CIRCUIT_MAX_PROBE_SECONDS": "0.4"}


def _drain_until(engine, database_url, fake_ccd, tmp_path, done) -> None:
    deadline = time.monotonic() + 30
    while not done():  # a drain exits between the short retry delays and probes
        assert time.monotonic() < deadline, export_summary(engine)
        finish(start_worker(database_url, fake_ccd, tmp_path, "--drain", **CIRCUIT))
        time.sleep(0.1)


def test_ccd_down_through_every_retry_holds_the_export_until_ccd_is_back(prepared, database_url, fake_ccd, tmp_path):
    """Worker processes, one after another, ride out the outage through the database: the
    schedule's three attempts, one more, then the circuit opens and holds the export."""
    queue_exports(prepared, [9])
    fake_ccd.refuse_connections()

    def circuit_open() -> bool:
        with prepared.connect() as connection:
            return connection.execute(sa.select(tables.system_controls.c.circuit_state)).scalar() == "open"

    _drain_until(prepared, database_url, fake_ccd, tmp_path, circuit_open)
    with prepared.connect() as connection:
        row = connection.execute(sa.select(tables.exports)).mappings().one()
    assert (row.state, row.attempts) == ("erroring", 3)  # the grace attempt given back as the outage showed
    assert "could not connect" in row.external_data["error"]["message"]
    fake_ccd.accept_connections()
    _drain_until(prepared, database_url, fake_ccd, tmp_path, lambda: export_summary(prepared)[0] == {"complete": 1})
    with prepared.connect() as connection:
        assert connection.execute(sa.select(tables.exports.c.attempts)).scalar() == 4
        assert connection.execute(sa.select(tables.system_controls.c.circuit_state)).scalar() == "closed"


def test_the_worker_refuses_to_start_without_ccd_settings(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCD_")}
    done = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "worker", "--drain"],
        cwd=REPO_ROOT,
        env={**env, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "CCD is not configured" in done.stderr and "Traceback" not in done.stderr
