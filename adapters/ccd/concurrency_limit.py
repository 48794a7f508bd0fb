"""A limit on how many calls the worker's threads make to CCD at once."""

from __future__ import annotations

import threading
from collections import deque

from application.ccd import CcdCase, CcdGateway

# How long a call that ends waits for the caller it handed its place to to wake.
HANDOVER_WAIT_SECONDS = 0.05


class _Turn:
    """A waiting caller's place: `given` when a call that ends hands it on, `taken`
    once the waiting caller has woken."""

    __slots__ = ("given", "taken")

    def __init__(self):
        self.given = threading.Event()
        self.taken = threading.Event()


class ConcurrencyLimitedCcdGateway(CcdGateway):
    """Lets at most `most` calls through to `inner` at a time, across all threads, in
    the order they came: a call that ends hands its place straight to the longest
    waiting, so no caller is overtaken (a claimed export waits its turn, never for ever).

    The worker runs more threads than calls, so that a thread records the end of its
    attempt while another's call to CCD is already under way. So a call that ends and
    hands its place on waits, at most `handover_wait` seconds, until the next caller has
    woken. Without it the ending thread, which takes the GIL back after each short
    database call before the woken thread is scheduled, keeps the woken one waiting
    for the whole record of its attempt (BENCHMARKS.md, 2026-12-04).
    """

    def __init__(self, inner: CcdGateway, most: int, handover_wait: float = HANDOVER_WAIT_SECONDS):
        if most < 1:
            raise ValueError(f"most must be 1 or more, not {most!r}")
        self.inner = inner
        self.handover_wait = handover_wait
        self._lock = threading.Lock()
        self._free = most
        self._waiting: deque[_Turn] = deque()

    def find_latest_case(self, case_type_id: str, case_number: str) -> CcdCase | None:
        self._enter()
        try:
            return self.inner.find_latest_case(case_type_id, case_number)
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = _Turn()
            self._waiting.append(turn)
        try:
            # Bounded: the calls ahead each end within the gateway's timeouts.
            turn.given.wait()
        except BaseException:
            self._give_up(turn)
            raise
        turn.taken.set()

    def _give_up(self, turn: _Turn) -> None:
        """A waiting caller that will not call (its wait was interrupted): out of the
        line, or, if its place was handed to it meanwhile, that place passed on."""
        with self._lock:
            queued = turn in self._waiting
            if queued:
                self._waiting.remove(turn)
        if not queued:
            turn.taken.set()  # whoever handed it on need not wait
            self._leave()

    def _leave(self) -> None:
        with self._lock:
            if not self._waiting:
                self._free += 1
                return
            turn = self._waiting.popleft()
            turn.given.set()  # its place, passed on
        turn.taken.wait(self.handover_wait)
