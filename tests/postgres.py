"""A throwaway PostgreSQL cluster for the test session.

PostgreSQL refuses to run as root, so under root (as in CI) the cluster belongs to the
`postgres` user and every server command runs through `runuser`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa


class PostgresUnavailable(Exception):
    """The PostgreSQL server binaries are not installed here."""


def find_bin_dir() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable("no initdb on PATH nor under /usr/lib/postgresql/*/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self, durable: bool = False) -> None:
        # Tests need no durability (fsync off is faster); the benchmark measures it.
        self.durable = durable
        self.bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="export-responses-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database in the cluster (a copy of `template`, if given); its URL."""
        admin = sa.create_engine(f"{self.url}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                copy = f" TEMPLATE {template}" if template else ""
                connection.exec_driver_sql(f"CREATE DATABASE {name}{copy}")
        finally:
            admin.dispose()
        return f"{self.url}/{name}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, cwd=self.root)

    def start(self) -> Cluster:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start_server()
        return self

    def start_server(self) -> None:
        """Start the server on the cluster's data and port (again, after stop_server)."""
        settings = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            settings,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop_server(self) -> None:
        """Stop the server as an operator would (fast: clients are disconnected), keeping its data."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            _remove_behind(self.root)


def _remove_behind(folder: Path) -> None:
    """Remove `folder` without waiting for it. The suite's cluster ends with hundreds of
    databases, about 8 MB each (300 of them: 3.1 GB in 90,000 files, 9.8 s to remove on
    this machine, which the test session waited for): a `rm` the shell leaves running
    removes them once the server has stopped."""
    subprocess.run(["sh", "-c", 'rm -rf -- "$1" >/dev/null 2>&1 &', "sh", str(folder)], check=False, timeout=10)
