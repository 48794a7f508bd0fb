"""Ctrl-C, SIGTERM and SIGHUP stop serve, the worker and scripts/run within seconds, every time.

Each case first sends real traffic, then the signal (and, as an impatient user would,
the same signal again), and times the stop. Ctrl-C in a terminal signals the whole
process group; `kill` signals one process. scripts/run's Ctrl-C is tested with the
README's examples (tests/e2e/test_readme.py), on the server they ran against.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from adapters.sql import tables
from adapters.sql.engine import create_engine
from tests.auth import AUTHORIZATION
from tests.builders import add_external_system, add_responses
from tests.e2e.conftest import REPO_ROOT, REQUEST_TIMEOUT, running_server
from tests.e2e.test_worker_processes import CASE_TYPE, _prepare, queue_exports, start_worker
from tests.postgres import free_port

pytestmark = pytest.mark.e2e
# "Within a couple of seconds", with room for a machine busy running the rest of the suite.
STOP_SECONDS = 5.0
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
AGAIN_AFTER_SECONDS = 0.2
EXPORT_PATH = "/api/v2/exports/export_responses"


def stop_and_time(process: subprocess.Popen, signum: int, whole_group: bool = True) -> tuple[int, float]:
    """Send `signum` twice, then the exit status and the seconds the process took to exit."""
    send = (lambda: os.killpg(process.pid, signum)) if whole_group else (lambda: process.send_signal(signum))
    started = time.monotonic()
    send()
    try:
        try:
            process.wait(timeout=AGAIN_AFTER_SECONDS)
        except subprocess.TimeoutExpired:
            send()
        status = process.wait(timeout=40)
    finally:
        _kill_what_is_left(process)
    return status, time.monotonic() - started


def _kill_what_is_left(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def server_database(sqlite_template, tmp_path) -> str:
    path = tmp_path / "export-responses.sqlite3"
    shutil.copy(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        add_external_system(connection, 43)
        add_responses(connection, range(1, 41))
    engine.dispose()
    return f"sqlite:///{path}"


def _traffic(base_url: str) -> tuple[requests.Session, socket.socket, int]:
    """Commands and reads over kept-alive connections, left open with an idle one beside
    them (as browsers leave them): the connections gunicorn's stop had to wait for."""
    session = requests.Session()
    accepted = 0
    for first in range(1, 41, 4):
        body = {
            "uuid": str(uuid.uuid4()),
            "command": "ExportResponses",
            "data": {"external_system_id": 43, "response_ids": list(range(first, first + 4))},
        }
        reply = session.post(base_url + EXPORT_PATH, json=body, headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT)
        assert reply.status_code == 202, reply.text
        accepted += 4
        assert session.get(base_url + "/api/v2/exports", headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT).ok
    host, port = base_url.removeprefix("http://").split(":")
    idle = socket.create_connection((host, int(port)), timeout=5)
    return session, idle, accepted


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda signum: signal.Signals(signum).name)
def test_serve_stops_within_seconds(signum, server_database, tmp_path):
    with running_server(server_database, tmp_path) as server:
        session, idle, accepted = _traffic(server.base_url)
        time.sleep(1)  # a moment of quiet, as before a Ctrl-C typed by hand
        status, seconds = stop_and_time(server.process, signum)
        session.close()
        idle.close()
        output = server.output()
    assert seconds < STOP_SECONDS, f"{seconds:.1f} s to stop:\n{output[-3000:]}"
    assert status == 0, output[-3000:]
    assert "SIGKILL" not in output and "Traceback" not in output, output[-3000:]
    engine = create_engine(server_database)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(tables.exports)).scalar_one() == accepted
    engine.dispose()


@pytest.fixture
def worker_database(sqlite_url, fake_ccd):
    engine = _prepare(create_engine(sqlite_url))
    for response_id in range(1, 61):
        fake_ccd.add_case(CASE_TYPE, f"24{response_id:05d}/2024", "Manchester")
    yield engine
    engine.dispose()


def _states(engine) -> dict[str, int]:
    with engine.connect() as connection:
        column = tables.exports.c.state
        return dict(connection.execute(sa.select(column, sa.func.count()).group_by(column)).all())


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda signum: signal.Signals(signum).name)
def test_the_worker_stops_within_seconds_finishing_what_it_holds(
    signum, worker_database, sqlite_url, fake_ccd, tmp_path
):
    queue_exports(worker_database, range(1, 21))
    worker = start_worker(sqlite_url, fake_ccd, tmp_path, "--concurrency", "4")
    try:
        deadline = time.monotonic() + 30
        while _states(worker_database) != {"complete": 20}:
            assert time.monotonic() < deadline, _states(worker_database)
            time.sleep(0.05)
        fake_ccd.delay_next(0.5, stage="data")  # an export is in hand when the signal comes
        queue_exports(worker_database, range(21, 61))
        while fake_ccd.calls_to("/data_store") <= 20:
            assert time.monotonic() < deadline, "the worker did not take the new exports"
            time.sleep(0.02)
        status, seconds = stop_and_time(worker, signum)
    finally:
        _kill_what_is_left(worker)
    output = worker.log_path.read_text()
    assert seconds < STOP_SECONDS, f"{seconds:.1f} s to stop:\n{output[-3000:]}"
    assert status == 0 and "worker stopped: " in output, output[-3000:]
    states = _states(worker_database)
    assert set(states) <= {"complete", "queued"}, states  # nothing left in progress: finished, or never taken
    assert states["complete"] > 20


def start_run(tmp_path, port: int, **env_overrides) -> subprocess.Popen:
    """scripts/run, started from another folder, with its data in the XDG data folder
    under `tmp_path` (`run.data_dir`) and none of the developer's settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CCD_", "API_", "DATABASE_URL", "EXPORT_", "BIND", "DEMO_"))
    }
    env.update(
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        BIND=f"127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
        XDG_RUNTIME_DIR=str(tmp_path),
        **env_overrides,
    )
    with (tmp_path / "run.log").open("wb") as log:
        process = subprocess.Popen(
            [str(REPO_ROOT / "scripts" / "run")],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = tmp_path / "run.log"
    process.data_dir = tmp_path / "xdg" / "export-responses"
    process.env = env
    return process


def wait_for_banner(process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        output = process.log_path.read_text(errors="replace")
        if re.search(r"^Export Responses is running\n(  .*\n)+-+$", output, re.MULTILINE):
            return output
        assert process.poll() is None, f"scripts/run exited with {process.returncode}:\n{output}"
        time.sleep(0.2)
    pytest.fail(f"no banner within 120 s:\n{process.log_path.read_text()}")


@pytest.mark.parametrize(
    ("signum", "expected_status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["kill", "terminal-closed"]
)
def test_scripts_run_stops_everything_within_seconds(signum, expected_status, tmp_path):
    port = free_port()
    run = start_run(tmp_path, port, DEMO_RESPONSES="4")
    try:
        banner = wait_for_banner(run)
        token_file = run.data_dir / "api-token"
        assert f"run: the data folder is {run.data_dir}" in banner
        assert f"http://127.0.0.1:{port}" in banner and str(token_file) in banner
        assert f"sqlite:///{run.data_dir}/export-responses.sqlite3" in banner
        assert "fake CCD" in banner and f"kill {run.pid}" in banner
        assert stat.S_IMODE((run.data_dir / "fake-ccd.env").stat().st_mode) == 0o600
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        command = str(uuid.uuid4())
        body = {
            "uuid": command,
            "command": "ExportResponses",
            "data": {"external_system_id": 1, "response_ids": [1, 2]},
        }
        base = f"http://127.0.0.1:{port}"
        assert requests.post(base + EXPORT_PATH, json=body, headers=headers, timeout=REQUEST_TIMEOUT).status_code == 202
        deadline = time.monotonic() + 30
        while True:
            exports = requests.get(
                base + "/api/v2/exports", params={"command_uuid": command}, headers=headers, timeout=REQUEST_TIMEOUT
            ).json()["exports"]
            if {export["state"] for export in exports} == {"complete"}:
                break
            assert time.monotonic() < deadline, exports
            time.sleep(0.1)
        assert_run_stops(run, signum, expected_status, whole_group=False)
    finally:
        _kill_what_is_left(run)


def assert_run_stops(run: subprocess.Popen, signum: int, expected_status: int, whole_group: bool) -> None:
    status, seconds = stop_and_time(run, signum, whole_group)
    output = run.log_path.read_text(errors="replace")
    assert seconds < STOP_SECONDS, f"{seconds:.1f} s to stop:\n{output[-3000:]}"
    assert status == expected_status, output[-3000:]
    assert _group_is_gone(run.pid), "scripts/run left processes behind"
    assert "Traceback" not in output and "SIGKILL" not in output, output
    assert "Context impl" not in output, output


def test_scripts_run_checks_the_port_before_starting_anything(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = start_run(tmp_path, port)
        try:
            status = run.wait(timeout=60)
        finally:
            _kill_what_is_left(run)
    output = run.log_path.read_text()
    assert status == 1, output
    assert f"run: cannot listen on 127.0.0.1:{port}: Address already in use" in output
    assert not run.data_dir.exists(), "something started before the port was checked"
