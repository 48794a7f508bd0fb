"""A limit on how often the worker's threads, together, ask CCD (the original had none)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from application.ccd import CcdCase, CcdGateway


class RateLimitedCcdGateway(CcdGateway):
    """Lets at most `max_per_second` calls through to `inner`, across all threads.

    Calls get evenly spaced slots (1/R s apart, no bursts); a caller whose slot is
    ahead sleeps until then. Idle time earns no credit. A slot is taken under the lock
    but slept for outside it, so the waits of concurrent callers overlap.
    """

    def __init__(
        self,
        inner: CcdGateway,
        max_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not 0 < max_per_second < float("inf"):
            raise ValueError(f"max_per_second must be a positive number, not {max_per_second!r}")
        self.inner = inner
        self.interval = 1.0 / max_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: float | None = None

    def find_latest_case(self, case_type_id: str, case_number: str) -> CcdCase | None:
        self._wait_for_slot()
        return self.inner.find_latest_case(case_type_id, case_number)

    def _wait_for_slot(self) -> None:
        with self._lock:
            now = self._clock()
            slot = now if self._next_slot is None else max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
