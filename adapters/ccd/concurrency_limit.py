"""A limit on how many calls the worker's threads make to CCD at once."""

from __future__ import annotations

import threading
from collections import deque

from application.ccd import CcdCase, CcdGateway

# The longest a call that ended waits for the caller it gave its place to to run.
HANDOVER_WAIT_SECONDS = 0.05


class _Turn:
    """A waiting caller's place: `given` when a call that ended passes it on, `taken`
    once the waiting caller runs again."""

    __slots__ = ("given", "taken")

    def __init__(self):
        self.given = threading.Event()
        self.taken = threading.Event()


class ConcurrencyLimitedCcdGateway(CcdGateway):
    """Lets at most `most` calls through to `inner` at a time, across all threads, in
    the order they came: a call that ends hands its place straight to the longest
    waiting, so no caller is overtaken (a claimed export waits its turn, never for ever).

    The worker runs more threads than calls, so that a thread records the end of its
    attempt while another's call to CCD is already under way. For that, a call that
    ends and hands its place on waits (at most `HANDOVER_WAIT_SECONDS`) until the next
    caller runs: Python's lock on the interpreter goes to whichever thread asks first,
    and the ending thread, which asks again after each short database call, would
    otherwise hold it through the whole record of its attempt while the next call
    waits (1.8 ms an export at concurrency 1 on SQLite, a tenth of a 20 ms call).
    """

    def __init__(self, inner: CcdGateway, most: int):
        if most < 1:
            raise ValueError(f"most must be 1 or more, not {most!r}")
        self.inner = inner
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
        # Bounded: the calls ahead each end within the gateway's timeouts.
        turn.given.wait()
        turn.taken.set()

    def _leave(self) -> None:
        with self._lock:
            if not self._waiting:
                self._free += 1
                return
            turn = self._waiting.popleft()
            turn.given.set()  # its place, passed on
        turn.taken.wait(HANDOVER_WAIT_SECONDS)
