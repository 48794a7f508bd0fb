"""An exclusive flock() on a file, waited for at most a given time, had the moment it is free.

flock() either blocks without a time limit or answers at once (LOCK_NB). Asking at once
and sleeping between asks leaves a freed lock idle while its next taker sleeps: under
load, SQLite's writers spent more time so than writing. Here a taker asks at once; when
the lock is held, a thread of the lock's own blocks in flock() for it, which the kernel
wakes as soon as the holder lets go (or dies), and hands it to the taker, who gives up
at its deadline. When the thread gets the lock after its taker gave up, the lock goes to
the process's next taker if one is waiting by then, else it is let go at once.

The thread's own wait has no limit (the kernel's), but nobody waits on it past their
deadline; it ends after a minute without takers, and a forked child starts its own.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

# The states of a process's claim on the lock.
_FREE = "free"  # this process neither holds nor wants it
_WANTED = "wanted"  # a taker waits; the thread is blocked in flock() for it, or about to be
_GRANTED = "granted"  # the thread got it for the waiting taker
_ABANDONED = "abandoned"  # the taker gave up; the thread is still blocked in flock()
_HELPER_IDLE_SECONDS = 60.0


class FileLock:
    """One process's exclusive lock on `path`. Its takers come one at a time: the caller
    serializes its own threads (WriterQueue does)."""

    def __init__(self, path: Path):
        self.path = path
        self._pid: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Whether the lock was had within `timeout` seconds."""
        self._for_this_process()
        with self._changed:
            if self._state == _FREE:
                try:
                    fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            if not self._helping:  # then nothing is blocked in flock() for this process
                # Started first: if it cannot start, nothing has changed.
                threading.Thread(target=self._help, name="writer-lock", daemon=True).start()
                self._helping = True
            self._state = _WANTED
            self._changed.notify_all()
            if self._changed.wait_for(lambda: self._state == _GRANTED, timeout):
                self._state = _FREE
                return True
            self._state = _ABANDONED
            return False

    def release(self) -> None:
        fcntl.flock(self._descriptor, fcntl.LOCK_UN)

    def _help(self) -> None:
        while True:
            with self._changed:
                if not self._changed.wait_for(lambda: self._state == _WANTED, _HELPER_IDLE_SECONDS):
                    self._helping = False
                    return
            try:
                fcntl.flock(self._descriptor, fcntl.LOCK_EX)  # woken by the kernel when it is free
            except OSError:  # not expected of an open descriptor: its taker times out, the next starts anew
                with self._changed:
                    self._helping = False
                    return
            with self._changed:
                if self._state == _WANTED:
                    self._state = _GRANTED
                    self._changed.notify_all()
                else:  # its taker gave up, and no other came meanwhile
                    fcntl.flock(self._descriptor, fcntl.LOCK_UN)
                    self._state = _FREE

    def _for_this_process(self) -> None:
        # A descriptor opened before a fork would share its lock with the parent, and the
        # parent's thread and condition do not exist in the child.
        if self._pid == os.getpid():
            return
        inherited = self._descriptor if self._pid is not None else None
        self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._pid = os.getpid()
        if inherited is not None:
            # Kept open, the parent's descriptor would keep the parent's lock held here
            # after the parent died; closing it here leaves the parent's own as it is.
            os.close(inherited)
        self._changed = threading.Condition()
        self._state = _FREE
        self._helping = False
