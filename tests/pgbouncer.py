"""A throwaway PgBouncer in transaction pooling mode, in front of a throwaway cluster.

It is Debian's `pgbouncer`, installed by scripts/test (scripts/system-packages) when
missing. Like PostgreSQL it runs as the `postgres` user when the tests run as root,
from a folder of its own, on a free port; the pool is small (5 server connections),
as on a managed database, so that clients share server connections between
transactions, as they do in production.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from adapters.sql.engine import create_engine
from adapters.sql.pooling import Pooling
from tests.postgres import Cluster, free_port

POOL_SIZE = 5
START_SECONDS = 15
QUERY_WAIT_SECONDS = 2
# Behind a transaction pooler the service's reading statements carry no timeout of their
# own (they run outside a transaction): PgBouncer's query_timeout bounds them, as the
# README asks of a production PgBouncer. Above every statement the suite runs.
QUERY_TIMEOUT_SECONDS = 8
_RUNNING_PORTS: dict[int, int] = {}  # a running PgBouncer's port: its cluster's


class PgBouncerUnavailable(Exception):
    """PgBouncer is not installed here and cannot be installed."""


def find_pgbouncer() -> str:
    # scripts/test installs it when missing (scripts/system-packages, one apt-get update
    # for every Debian package the suite needs).
    found = _installed()
    if not found:
        raise PgBouncerUnavailable("no pgbouncer on PATH (scripts/test installs it as root: apt-get install pgbouncer)")
    return found


def _installed() -> str | None:
    # Debian puts it in /usr/sbin, which a non-root PATH may lack.
    return shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)


def service_environment(database_url: str) -> dict[str, str]:
    """What a service process run on `database_url` needs besides DATABASE_URL: through
    one of these PgBouncers, DATABASE_POOLING=transaction."""
    port = make_url(database_url).port if database_url.startswith("postgresql") else None
    return {"DATABASE_POOLING": "transaction"} if port in _RUNNING_PORTS else {}


def past_the_pooler(database_url: str) -> str:
    """The same database straight on its cluster, when `database_url` goes through a test
    PgBouncer: for a test's own session that PgBouncer's timeouts must not end."""
    url = make_url(database_url)
    if not database_url.startswith("postgresql") or url.port not in _RUNNING_PORTS:
        return database_url
    return url.set(port=_RUNNING_PORTS[url.port]).render_as_string(hide_password=False)


def engine_for(database_url: str, **options):
    """An engine on `database_url` as a service process makes it (through a test PgBouncer:
    DATABASE_POOLING=transaction), for tests to seed and check rows."""
    pooling = Pooling.TRANSACTION if service_environment(database_url) else Pooling.SESSION
    return create_engine(database_url, pooling=pooling, **options)


class PgBouncer:
    """`pool_mode = transaction` for every database of `cluster`, logged in as postgres."""

    def __init__(self, cluster: Cluster) -> None:
        self.binary = find_pgbouncer()
        self.cluster = cluster
        self.root = Path(tempfile.mkdtemp(prefix="export-responses-pgbouncer-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        if cluster.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def url_of(self, direct_url: str) -> str:
        """The URL of the same database through this PgBouncer."""
        return direct_url.replace(self.cluster.url, self.url, 1)

    def start(self) -> PgBouncer:
        config = self.root / "pgbouncer.ini"
        config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host=127.0.0.1 port={self.cluster.port} user=postgres",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    f"unix_socket_dir = {self.root}",
                    "auth_type = any",
                    "pool_mode = transaction",
                    f"default_pool_size = {POOL_SIZE}",
                    "max_client_conn = 500",
                    # The default, 15 s, is how long it waits before trying a server that refused it
                    # again: recovery after a restart would take that long.
                    "server_login_retry = 1",
                    # While the server is down, queries of connected clients wait in PgBouncer's queue
                    # this long (default 120 s, past gunicorn's 30 s timeout), then get an error: what
                    # the README asks of a production PgBouncer, so that an outage is a quick 503.
                    f"query_wait_timeout = {QUERY_WAIT_SECONDS}",
                    f"query_timeout = {QUERY_TIMEOUT_SECONDS}",
                    f"logfile = {self.root / 'pgbouncer.log'}",
                    f"pidfile = {self.root / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        if self.cluster.as_root:
            shutil.chown(config, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"] if self.cluster.as_root else []
        self.process = subprocess.Popen(
            [*prefix, self.binary, str(config)],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_SECONDS
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        _RUNNING_PORTS[self.port] = self.cluster.port
        return self

    def _listening(self) -> bool:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        _RUNNING_PORTS.pop(self.port, None)
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
