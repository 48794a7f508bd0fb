"""Durable commits, bounded waits, and a readiness probe that tells the truth."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.sql.engine import LockWaitTimeout, WriterQueue, create_engine
from adapters.sql.health import SqlAlchemyHealth
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import StoreUnavailable
from tests.databases import cannot_run

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_commits_survive_a_power_failure_and_waits_are_bounded(sqlite_url):
    engine = create_engine(sqlite_url, lock_wait_seconds=1.5)
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert (pragma("journal_mode"), pragma("synchronous"), pragma("busy_timeout")) == ("wal", 2, 1500)
    engine.dispose()


@pytest.mark.postgres
def test_postgres_sessions_commit_synchronously_and_give_up_on_locks_and_long_statements(postgres_url):
    engine = create_engine(postgres_url, lock_wait_seconds=1, statement_timeout_seconds=0.5)
    with engine.connect() as connection:
        show = lambda name: connection.exec_driver_sql(f"SHOW {name}").scalar()  # noqa: E731
        assert (show("synchronous_commit"), show("lock_timeout"), show("statement_timeout")) == ("on", "1s", "500ms")
        assert show("idle_in_transaction_session_timeout") == "1min"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        with SqlAlchemyUnitOfWork(engine) as uow:
            uow.connection.exec_driver_sql("SELECT pg_sleep(5)")
    assert time.monotonic() - started < 3
    engine.dispose()


HOLD = """
import sys, time
from pathlib import Path
from adapters.sql.engine import WriterQueue
WriterQueue(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_writer_waits_for_the_lock_at_most_its_wait(tmp_path):
    path = tmp_path / "db-writer.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, cwd=REPO_ROOT)
    try:
        assert holder.stdout.readline().strip() == b"held"
        started = time.monotonic()
        with pytest.raises(LockWaitTimeout, match="database is locked"):
            WriterQueue(path, wait_seconds=0.3).acquire()
        assert 0.3 <= time.monotonic() - started < 1.5
    finally:
        holder.kill()
        holder.wait(timeout=5)
    line = WriterQueue(path, wait_seconds=0.3)
    line.acquire()  # the holder died: the kernel freed its lock
    line.release()


def test_a_lock_wait_timeout_is_an_outage_for_the_caller(sqlite_url):
    engine = create_engine(sqlite_url, lock_wait_seconds=0.2)
    holder = engine.connect()
    holder.begin()  # takes the writers' lock of this process, in another thread's way
    try:
        failures = []

        def write():
            try:
                with SqlAlchemyUnitOfWork(engine):
                    pass
            except StoreUnavailable as error:
                failures.append(error)

        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=5)
        assert len(failures) == 1 and "locked" in str(failures[0])
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def test_readiness_is_false_on_a_read_only_sqlite_database(sqlite_url):
    path = sqlite_url.removeprefix("sqlite:///")
    health = SqlAlchemyHealth(create_engine(f"sqlite:///file:{path}?mode=ro&uri=true"))
    assert health.answers() and not health.accepts_writes()
    assert SqlAlchemyHealth(create_engine(sqlite_url)).accepts_writes()


@pytest.mark.postgres
def test_readiness_is_false_on_a_read_only_postgres_database(postgres_url):
    engine = create_engine(postgres_url)
    assert SqlAlchemyHealth(engine).accepts_writes()
    name = sa.make_url(postgres_url).database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    engine.dispose()  # new sessions take the database's new default
    health = SqlAlchemyHealth(create_engine(postgres_url))
    assert health.answers() and not health.accepts_writes()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs: filling it is a full disk for whatever is on it (needs root to mount)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        cannot_run("the full-disk test needs root and mount (a tmpfs of 4 MiB)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_readiness_is_false_on_a_full_disk(sqlite_url, small_disk):
    database = small_disk / "export-responses.sqlite3"
    shutil.copy(sqlite_url.removeprefix("sqlite:///"), database)
    engine = create_engine(f"sqlite:///{database}")
    health = SqlAlchemyHealth(engine)
    assert health.accepts_writes()
    # Space the WAL already holds takes a write without the disk: start from an empty WAL,
    # as after a checkpoint, so that the next write needs new space.
    engine.dispose()
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with (small_disk / "filler").open("wb", buffering=0) as filler:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    filler.write(b"\0" * size)
            except OSError:
                pass  # ENOSPC: full to within `size` bytes
    engine.dispose()  # a fresh connection, as after a restart, finds the disk full too
    assert not health.accepts_writes()
    (small_disk / "filler").unlink()
    assert health.accepts_writes()
    engine.dispose()
