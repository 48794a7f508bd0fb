"""The writers' flock(): waited for in the kernel with a time limit, not by asking again and again."""

from __future__ import annotations

import fcntl
import select
import subprocess
import sys
import textwrap
import threading

import pytest

from adapters.sql import file_lock
from adapters.sql.engine import LockWaitTimeout, WriterQueue
from adapters.sql.file_lock import FileLock

HOLDER = textwrap.dedent("""
    import fcntl, os, sys
    descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.readline()  # held until told to let go
""")


def holder(path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    ready, _, _ = select.select([process.stdout], [], [], 10)
    if not ready:
        process.kill()
        raise AssertionError("the other process did not get the lock within 10 s")
    assert process.stdout.readline() == "held\n"
    return process


def let_go(process: subprocess.Popen) -> None:
    process.communicate("\n", timeout=10)


def can_take(path) -> bool:
    """Whether another process could take the lock now."""
    program = "import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB)"
    return subprocess.run([sys.executable, "-c", program, str(path)], capture_output=True).returncode == 0


def test_a_free_lock_is_had_at_once_and_let_go(tmp_path):
    path = tmp_path / "writer.lock"
    lock = FileLock(path)
    assert lock.acquire(timeout=0)
    assert not can_take(path)
    lock.release()
    assert can_take(path)


def test_a_held_lock_is_waited_for_in_the_kernel_not_asked_for_again_and_again(tmp_path, monkeypatch):
    path = tmp_path / "writer.lock"
    held = holder(path)
    calls = []
    real_flock = fcntl.flock
    monkeypatch.setattr(file_lock.fcntl, "flock", lambda *args: calls.append(args[1]) or real_flock(*args))
    lock = FileLock(path)
    try:
        assert not lock.acquire(timeout=0.5)
    finally:
        let_go(held)
    # One ask at once, then one blocking flock() in the lock's thread: no polling.
    assert calls[:2] == [fcntl.LOCK_EX | fcntl.LOCK_NB, fcntl.LOCK_EX]
    assert lock.acquire(timeout=5)  # the thread got it as the holder let go, and hands it on
    assert not can_take(path)
    lock.release()
    assert can_take(path)
    assert len(calls) <= 5, calls


def test_a_lock_had_after_its_taker_gave_up_is_let_go_for_other_processes(tmp_path):
    path = tmp_path / "writer.lock"
    held = holder(path)
    lock = FileLock(path)
    try:
        assert not lock.acquire(timeout=0.2)
    finally:
        let_go(held)
    # The lock's thread gets it once the holder lets go, finds no taker, and lets it go.
    other = holder(path)  # blocks until it has it: never, if this process kept it
    let_go(other)
    assert lock.acquire(timeout=5)
    lock.release()


def test_a_thread_that_cannot_start_leaves_the_lock_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "writer.lock"
    held = holder(path)
    lock = FileLock(path)

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    try:
        with monkeypatch.context() as patched:
            patched.setattr(file_lock.threading.Thread, "start", no_thread)
            with pytest.raises(RuntimeError, match="start new thread"):
                lock.acquire(timeout=0.2)
        assert not lock.acquire(timeout=0.2)  # held elsewhere still: waited for, and not had
    finally:
        let_go(held)
    assert lock.acquire(timeout=5)
    lock.release()


def test_a_writer_that_cannot_wait_for_the_lock_gets_an_outage_and_leaves_the_line(tmp_path, monkeypatch):
    line = WriterQueue(tmp_path / "db-writer.lock", wait_seconds=0.2)

    def no_descriptor(self, timeout):
        raise OSError(24, "Too many open files")

    with monkeypatch.context() as patched:
        patched.setattr(FileLock, "acquire", no_descriptor)
        with pytest.raises(LockWaitTimeout, match="could not be waited for: .*Too many open files"):
            line.acquire()
    other: list[bool] = []

    def take() -> None:  # another thread of the process is not kept out of the line
        line.acquire()
        line.release()
        other.append(True)

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(timeout=10)
    assert other == [True]
