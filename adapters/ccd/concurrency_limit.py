"""A limit on how many calls the worker's threads make to CCD at once."""

from __future__ import annotations

import threading
from collections import deque

from application.ccd import CcdCase, CcdGateway


class ConcurrencyLimitedCcdGateway(CcdGateway):
    """Lets at most `most` calls through to `inner` at a time, across all threads, in
    the order they came: a call that ends hands its place straight to the longest
    waiting, so no caller is overtaken (a claimed export waits its turn, never for ever).

    The worker runs more threads than calls, so that a thread records the end of its
    attempt while another's call to CCD is already under way.
    """

    def __init__(self, inner: CcdGateway, most: int):
        if most < 1:
            raise ValueError(f"most must be 1 or more, not {most!r}")
        self.inner = inner
        self._lock = threading.Lock()
        self._free = most
        self._waiting: deque[threading.Event] = deque()

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
            turn = threading.Event()
            self._waiting.append(turn)
        # Bounded: the calls ahead each end within the gateway's timeouts.
        turn.wait()

    def _leave(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # its place, passed on
            else:
                self._free += 1
