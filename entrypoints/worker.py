"""The export worker: claims due exports and carries them out, N at a time."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from application.carry_out_exports import ExportWorkDeps, carry_out, claim_due_exports
from application.ports import ClaimedExport, StoreUnavailable

LOG = logging.getLogger("export_responses.worker")


class Worker:
    """Runs until stopped (or, draining, until nothing is due), finishing what it holds."""

    def __init__(self, deps: ExportWorkDeps, concurrency: int = 1, poll_seconds: float = 1.0):
        self.deps = deps
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.outcomes: Counter[str] = Counter()
        self._outcomes_lock = threading.Lock()

    def stop_on_signals(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop())

    def stop(self) -> None:
        # Only sets a flag: this runs in signal handlers, where logging could interleave.
        self.stopping.set()

    def run(self, drain: bool = False) -> Counter[str]:
        # Up to `concurrency` exports run while as many more wait, claimed, in `ready`:
        # the next claim is made while CCD answers the current ones, not after.
        in_flight: set[Future] = set()
        ready: deque[ClaimedExport] = deque()
        announced = False
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="export") as pool:
            while True:
                if self.stopping.is_set() and not announced and (in_flight or ready):
                    held = len(in_flight) + len(ready)
                    LOG.info(json.dumps({"event": "stopping", "detail": f"finishing {held} exports in hand"}))
                    announced = True
                while ready and len(in_flight) < self.concurrency:
                    in_flight.add(pool.submit(self._carry_out, ready.popleft()))
                claimed = None if self.stopping.is_set() else self._claim(self._to_claim(len(ready)))
                if claimed is None and not self.stopping.is_set():
                    continue  # the database did not answer: that is no empty queue, even when draining
                ready.extend(claimed or ())
                if ready and len(in_flight) < self.concurrency:
                    continue
                if in_flight:
                    _, in_flight = wait(in_flight, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
                elif not ready and (drain or self.stopping.is_set()):
                    break
                elif not ready:
                    self.stopping.wait(self.poll_seconds)
        return self.outcomes

    def _to_claim(self, ready: int) -> int:
        """How many to claim now: none until half the slots in `ready` are free (or it is
        empty), so that claims come in batches, each one transaction, not one per export."""
        free = self.concurrency - ready
        return free if ready == 0 or free >= (self.concurrency + 1) // 2 else 0

    def _claim(self, free: int) -> list[ClaimedExport] | None:
        """Up to `free` claims; None, after waiting a poll, when the database does not answer."""
        if free <= 0:
            return []
        try:
            return claim_due_exports(self.deps, free)
        except StoreUnavailable as error:
            LOG.warning(json.dumps({"event": "database_unavailable", "detail": str(error)}))
            self.stopping.wait(self.poll_seconds)
            return None

    def _carry_out(self, claim: ClaimedExport) -> None:
        started = time.perf_counter()
        try:
            state = carry_out(claim, self.deps)
            outcome = "claim_lost" if state is None else state.value
        except Exception:
            # The claim stays until it expires; then another attempt takes the export.
            LOG.exception("export %s attempt %s crashed", claim.export_id, claim.attempt)
            outcome = "crashed"
        with self._outcomes_lock:
            self.outcomes[outcome] += 1
        LOG.info(json.dumps({"event": "attempt", "export_id": claim.export_id, "attempt": claim.attempt,
                             "outcome": outcome, "seconds": round(time.perf_counter() - started, 3)}))  # fmt: skip
