"""A real `export-responses serve` (gunicorn, two workers) per database, per module.

Starting a server costs about a second, so one serves every test of a module; tests
keep out of each other's way with their own ids and uuids instead of a fresh database.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from attrs import frozen

from adapters.ccd.fake_server import FakeCcd
from tests.auth import TEST_TOKEN
from tests.databases import new_pgbouncer_database, new_postgres_database
from tests.pgbouncer import engine_for, service_environment
from tests.postgres import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30
SHUTDOWN_SECONDS = 15
REQUEST_TIMEOUT = (5, 30)  # (connect, read) seconds
# Settings the developer's shell may carry that would change what these tests expect.
_INHERITED_SETTINGS = (
    "DATABASE_URL",
    "DATABASE_POOLING",
    "DATABASE_DIRECT_URL",
    "EXPORT_RESPONSES_DATA_DIR",
    "MAX_RESPONSE_IDS",
    "MAX_BODY_BYTES",
    "API_TOKENS",
    "API_AUTH",
    "LOCK_WAIT_SECONDS",
    "STATEMENT_TIMEOUT_SECONDS",
    "HEADER_READ_SECONDS",
    "BODY_READ_SECONDS",
    "MAX_ERRORS",
    "LOG_FORMAT",
)
# What a worker writes when a request ends in a bug: a traceback, or an access line with a 5xx.
_SERVER_FAULT = re.compile(r"Traceback|\"status\": 5\d\d")


@frozen
class LiveServer:
    base_url: str
    database_url: str
    log_path: Path
    process: subprocess.Popen

    def url(self, path: str) -> str:
        return self.base_url + path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# The databases a service runs on: SQLite, PostgreSQL, and PostgreSQL through PgBouncer
# in transaction pooling mode (the service then runs with DATABASE_POOLING=transaction).
DATABASE_KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("pgbouncer", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def e2e_database_url(request, tmp_path_factory) -> str:
    """A freshly migrated database for one module, of each kind a service runs on."""
    return module_database(request, tmp_path_factory)


def module_database(request, tmp_path_factory) -> str:
    """A freshly migrated database of the kind `request.param` names."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("e2e-sqlite") / "export-responses.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    if request.param == "pgbouncer":
        return new_pgbouncer_database(request.getfixturevalue("pgbouncer"))
    return new_postgres_database(request.getfixturevalue("postgres_cluster"))


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request) -> str:
    """A freshly migrated database of each kind a service process runs on (for worker processes)."""
    if request.param == "pgbouncer":
        return new_pgbouncer_database(request.getfixturevalue("pgbouncer"))
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="module")
def live_server(e2e_database_url, tmp_path_factory):
    """The service under gunicorn in its own process group; yields it once /health says 200."""
    with running_server(e2e_database_url, tmp_path_factory.mktemp("e2e-server")) as server:
        yield server


@contextlib.contextmanager
def running_server(database_url: str, folder: Path, **settings: str) -> Iterator[LiveServer]:
    """`export-responses serve` on `database_url`, logging to `folder`, stopped on exit;
    `settings` are more environment variables (`HEADER_READ_SECONDS="1"`)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in _INHERITED_SETTINGS}
    env.update(
        DATABASE_URL=database_url,
        EXPORT_RESPONSES_DATA_DIR=str(folder),
        PYTHONUNBUFFERED="1",
        API_TOKENS=TEST_TOKEN,
        **service_environment(database_url),
    )
    env.update(settings)  # a test's own settings win (another API_TOKENS)
    # gunicorn puts its control socket in $XDG_RUNTIME_DIR, else in ~/.gunicorn shared by
    # every server of the user: each test server gets its own.
    env["XDG_RUNTIME_DIR"] = str(folder)
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", database_url, log_path, process)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        _stop(process)


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode} before it was healthy:\n{server.output()}")
        try:
            reply = requests.get(server.url("/health"), timeout=(1, 2))
            if reply.status_code == 200:
                return
            last = f"{reply.status_code} {reply.text}"
        except requests.RequestException as error:
            last = repr(error)
        time.sleep(0.1)
    pytest.fail(f"GET /health did not answer 200 within {STARTUP_SECONDS} s (last: {last}):\n{server.output()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=SHUTDOWN_SECONDS)
    # Workers left behind by a killed arbiter would hold the port and the database.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def server_engine(live_server):
    """An engine on the server's database, to seed rows and check what the server wrote."""
    engine = engine_for(live_server.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def id_sequence():
    # Far above the documented ids (18, 19, 20, 43), and unique within the module.
    return itertools.count(1_000)


@pytest.fixture
def new_id(id_sequence):
    return lambda: next(id_sequence)


@pytest.fixture(autouse=True)
def server_stays_sound(request):
    """Fails a test during which the server logged a traceback or answered a 5xx."""
    if "live_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("live_server")
    start = len(server.output())
    yield
    # The middleware logs before the reply leaves the worker: no need to wait for it.
    written = server.output()[start:]
    assert not _SERVER_FAULT.search(written), f"the server reported a fault during this test:\n{written}"
    assert server.process.poll() is None, f"the server exited with {server.process.returncode}:\n{written}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    server = getattr(item, "funcargs", {}).get("live_server")
    if report.failed and isinstance(server, LiveServer):
        report.sections.append(("server output", server.output()[-20_000:]))
    return report


@pytest.fixture
def fake_ccd() -> Iterator[FakeCcd]:
    """The fake CCD over HTTP, for worker processes to export to."""
    with FakeCcd() as fake:
        yield fake
