"""SQLite's writers wait in line in the kernel, not in SQLite's sleeping busy handler."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import sqlalchemy as sa

from adapters.sql.engine import WriterQueue, create_engine


def test_a_second_thread_waits_until_the_first_writer_is_done(tmp_path):
    line = WriterQueue(tmp_path / "db-writer.lock")
    order: list[str] = []
    line.acquire()
    waiter = threading.Thread(target=lambda: (line.acquire(), order.append("second"), line.release()))
    waiter.start()
    time.sleep(0.2)
    order.append("first")
    line.release()
    waiter.join(timeout=5)
    assert order == ["first", "second"]


def test_another_process_waits_for_the_lock_and_gets_it_when_released(tmp_path):
    path = tmp_path / "db-writer.lock"
    line = WriterQueue(path)
    line.acquire()
    program = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from adapters.sql.engine import WriterQueue
        queue = WriterQueue(Path({str(path)!r}))
        print("ready", flush=True)
        queue.acquire()
        print(time.time(), flush=True)
    """)
    other = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline() == "ready\n"
        time.sleep(0.5)  # the other process is in line (or about to be): it cannot get in
        assert other.poll() is None
        released_at = time.time()
        line.release()
        output, _ = other.communicate(timeout=10)
    finally:
        other.kill()
    # It got the lock only once this process let go, however slowly it was scheduled.
    assert other.returncode == 0 and float(output) >= released_at


def test_the_same_thread_may_enter_twice_and_leaves_the_line_free(tmp_path):
    line = WriterQueue(tmp_path / "db-writer.lock")
    line.acquire()
    line.acquire()
    line.release()
    line.release()
    done = threading.Event()
    threading.Thread(target=lambda: (line.acquire(), done.set(), line.release())).start()
    assert done.wait(5)


def test_concurrent_writing_transactions_on_one_file_all_commit(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")

    def write(n):
        for i in range(50):
            with engine.begin() as connection:
                connection.execute(sa.text("INSERT INTO t VALUES (:n)"), {"n": n * 100 + i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 400
    assert (tmp_path / "db.sqlite3-writer.lock").exists()
