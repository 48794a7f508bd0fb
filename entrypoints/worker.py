"""The export worker: claims due exports and carries them out, N at a time.

With a free slot, it looks for due exports every `poll_seconds`, or at once when `nudge`
is called: by a listener that hears of newly queued exports (adapters/sql/queue_signals.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import attrs

from adapters.ccd.concurrency_limit import ConcurrencyLimitedCcdGateway
from adapters.group_commit import GroupCommit
from application.attempts import Attempt
from application.carry_out_exports import (
    ExportWorkDeps,
    carry_out,
    claim_due_exports,
    held_until,
    record_attempts,
    record_crash,
    release_claims,
)
from application.ports import ClaimedExport, StoreUnavailable
from entrypoints.converter import timestamp

LOG = logging.getLogger("export_responses.worker")
# The longest the worker waits before trying again after failures in a row.
MAX_BACKOFF_SECONDS = 10.0
# The shortest wait for a throttle, so that a worker never spins on one.
MIN_THROTTLE_WAIT_SECONDS = 0.01


class Worker:
    """Runs until stopped (or, draining, until nothing is due), finishing what it holds."""

    def __init__(
        self,
        deps: ExportWorkDeps,
        concurrency: int = 1,
        poll_seconds: float = 1.0,
        on_attempt: Callable[[str], None] | None = None,
    ):
        # Twice as many threads as calls to CCD: a thread records its attempt's end
        # while the next export's call is under way. The ends of attempts that finish
        # together are recorded in one transaction.
        self.threads = 2 * concurrency
        ends = GroupCommit(lambda ended: record_attempts(deps, ended), most=self.threads, shared=(StoreUnavailable,))
        self.deps = attrs.evolve(
            deps,
            ccd=ConcurrencyLimitedCcdGateway(deps.ccd, concurrency),
            record=lambda claim, outcome: ends.record((claim, outcome)),
        )
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.on_attempt = on_attempt  # told each attempt's outcome: the metrics
        self.stopping = threading.Event()
        # Set by `nudge` (and `stop`): ends an idle wait before the poll interval is up.
        self._wake = threading.Event()
        self.outcomes: Counter[str] = Counter()
        self._outcomes_lock = threading.Lock()
        # Failures in a row of claims, and of attempts: each doubles the next wait.
        self.claim_backoff = Backoff(poll_seconds, MAX_BACKOFF_SECONDS)
        self.crash_backoff = Backoff(poll_seconds, MAX_BACKOFF_SECONDS)
        self.throttle_backoff = Backoff(poll_seconds, MAX_BACKOFF_SECONDS)
        self._paused_until = 0.0  # no claims until then, after an attempt crashed

    def stop(self) -> None:
        # Only sets flags: this runs in signal handlers, where logging could interleave.
        self.stopping.set()
        self._wake.set()

    def nudge(self) -> None:
        """Exports may have been queued: look now rather than at the next poll."""
        self._wake.set()

    def run(self, drain: bool = False) -> Counter[str]:
        # Claimed exports go to the pool at once: up to `concurrency` ask CCD while as
        # many more wait their turn, so that a call that ends lets the next start without
        # waiting for this loop, and the next claim is made while CCD answers.
        in_hand: set[Future] = set()  # given to the pool: asking CCD, waiting to, or recording
        announced = False
        with ThreadPoolExecutor(self.threads, thread_name_prefix="export") as pool:
            while True:
                in_hand = {future for future in in_hand if not future.done()}
                if self.stopping.is_set() and not announced and in_hand:
                    LOG.info(json.dumps({"event": "stopping", "detail": f"finishing {len(in_hand)} exports in hand"}))
                    announced = True
                # Cleared before the claim: a nudge from now on is for exports it may not see.
                self._wake.clear()
                wanted = 0 if self.stopping.is_set() else self._to_claim(len(in_hand))
                claimed = self._claim(wanted) if wanted else []
                if claimed is None and not self.stopping.is_set():
                    continue  # claiming failed: that is no empty queue, even when draining
                for claim in claimed or ():
                    future = pool.submit(self._carry_out, claim)
                    future.add_done_callback(lambda _: self._wake.set())  # room in hand: claim
                    in_hand.add(future)
                if claimed and len(claimed) == wanted and self._to_claim(len(in_hand)):
                    continue  # as many were due as it asked for, and there is room for more
                if in_hand:
                    # Until an export ends, a nudge (new exports, for a free slot) or the poll.
                    if not any(future.done() for future in in_hand):
                        self._wake.wait(self.poll_seconds)
                else:
                    try:
                        throttled = None if self.stopping.is_set() else self._throttle_wait()
                    except StoreUnavailable as error:  # that is no empty queue, even when draining
                        LOG.warning(json.dumps({"event": "throttle_unread", "error": describe(error)}))
                        self.stopping.wait(self.throttle_backoff.failed())
                        continue
                    if throttled is None and (drain or self.stopping.is_set()):
                        break
                    self._wake.wait(self.poll_seconds if throttled is None else min(throttled, self.poll_seconds))
        return self.outcomes

    def _throttle_wait(self) -> float | None:
        """Idle: the seconds until a system's throttle lets an export it holds back be
        claimed, or None if none holds any back (then the poll, or a drain, decides).
        Raises StoreUnavailable when the database does not answer."""
        try:
            until = held_until(self.deps)
        except StoreUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - a fault of ours: the next claim meets it too, and says so
            LOG.warning(json.dumps({"event": "throttle_unread", "error": describe(error)}))
            return None
        self.throttle_backoff.succeeded()
        if until is None:
            return None
        return max(MIN_THROTTLE_WAIT_SECONDS, (until - self.deps.clock.now()).total_seconds())

    def _to_claim(self, in_hand: int) -> int:
        """How many to claim now, with `in_hand` exports held: enough for every slot and as
        many more waiting, but none until half of those waiting have started (or none
        wait), so that claims come in batches, each one transaction, not one per export."""
        waiting = max(0, in_hand - self.concurrency)
        free = self.concurrency - waiting
        return free if waiting == 0 or free >= (self.concurrency + 1) // 2 else 0

    def _claim(self, free: int) -> list[ClaimedExport] | None:
        """Up to `free` claims; None, after backing off, when claiming failed or is paused."""
        paused = self._paused_until - time.monotonic()
        if paused > 0:
            self.stopping.wait(min(paused, self.poll_seconds))
            return None
        token = self.deps.new_uuid()
        try:
            claims = claim_due_exports(self.deps, free, token)
        except StoreUnavailable as error:
            LOG.warning(json.dumps({"event": "database_unavailable", "claim_token": token, "detail": str(error)}))
            self._release(token, None)  # the claim may have committed, its acknowledgement lost
        except Exception as error:  # noqa: BLE001 - the worker outlives what it did not expect
            LOG.error(json.dumps({"event": "claim_failed", "claim_token": token, "error": describe(error)}))
            self._release(token, None)
        else:
            self.claim_backoff.succeeded()
            return claims
        self.stopping.wait(self.claim_backoff.failed())
        return None

    def _carry_out(self, claim: ClaimedExport) -> None:
        started = time.perf_counter()
        if claim.probe:
            LOG.info(json.dumps(_probe_line(claim)))
        attempt: Attempt | None
        try:
            attempt = carry_out(claim, self.deps)
            outcome = "claim_lost" if attempt.state is None else attempt.state.value
            with self._outcomes_lock:
                self.crash_backoff.succeeded()
        except Exception as error:  # noqa: BLE001 - one export's fault must not end the worker
            outcome = "crashed"
            attempt = self._after_crash(claim, error)
        with self._outcomes_lock:
            self.outcomes[outcome] += 1
        if self.on_attempt is not None:
            self.on_attempt(outcome)
        line = attempt_line(claim, outcome, attempt, time.perf_counter() - started)
        LOG.log(logging.INFO if outcome in ("complete", "claim_lost") else logging.WARNING, json.dumps(line))
        if attempt is not None and attempt.circuit_change is not None:
            level = logging.INFO if attempt.circuit_change == "circuit_closed" else logging.WARNING
            LOG.log(level, json.dumps(circuit_line(claim, attempt)))
        if attempt is not None and attempt.throttle is not None:
            LOG.warning(json.dumps(throttle_line(claim, attempt)))

    def _after_crash(self, claim: ClaimedExport, error: Exception) -> Attempt | None:
        """Log the crash, end the claim (as a failed attempt if it can still be recorded),
        and hold further claims back for a while: the fault may be anyone's."""
        LOG.error(
            json.dumps(
                {
                    "event": "attempt_crashed",
                    "export_ids": [claim.export_id],
                    "attempt": claim.attempt,
                    "error": describe(error),
                }
            )
        )
        with self._outcomes_lock:
            self._paused_until = time.monotonic() + self.crash_backoff.failed()
        try:
            return record_crash(claim, self.deps, f"the attempt failed unexpectedly: {describe(error)}")
        except Exception as second:  # noqa: BLE001
            LOG.error(
                json.dumps({"event": "crash_not_recorded", "export_ids": [claim.export_id], "error": describe(second)})
            )
            self._release(claim.claim_token, [claim.export_id])
            return None

    def _release(self, token: str, export_ids: list[int] | None) -> None:
        try:
            released = release_claims(self.deps, token, export_ids)
        except Exception as error:  # noqa: BLE001 - the claims expire on their own
            LOG.warning(
                json.dumps(
                    {
                        "event": "claims_left_to_expire",
                        "claim_token": token,
                        "export_ids": export_ids,
                        "error": describe(error),
                    }
                )
            )
            return
        if released:
            LOG.info(
                json.dumps(
                    {"event": "claims_released", "claim_token": token, "export_ids": export_ids, "released": released}
                )
            )


def attempt_line(claim: ClaimedExport, outcome: str, attempt: Attempt | None, seconds: float) -> dict:
    """The log line of one attempt: what became of it and why, never a secret (the
    reasons are the messages recorded on the export, which hold no token, URL or body)."""
    line: dict = {
        "event": "attempt",
        "export_id": claim.export_id,
        "external_system_id": claim.external_system_id,
        "attempt": claim.attempt,
        "outcome": outcome,
        "seconds": round(seconds, 3),
    }
    if attempt is None:
        return line
    if attempt.error is not None:
        line["reason"] = attempt.error
    if attempt.next_attempt_at is not None:
        line["next_attempt_at"] = timestamp(attempt.next_attempt_at)
    if not attempt.charged:
        line["charged"] = False  # CCD's outage or its 429, not the export's: the attempt was given back
    if attempt.cancelled_by is not None:
        line["cancelled_by"] = attempt.cancelled_by
    return line


def circuit_line(claim: ClaimedExport, attempt: Attempt) -> dict:
    circuit = attempt.circuit
    assert circuit is not None, "a circuit that changed is known"
    return {
        "event": attempt.circuit_change,
        "external_system_id": claim.external_system_id,
        "export_id": claim.export_id,
        "circuit_state": circuit.state.value,
        "consecutive_failures": circuit.consecutive_failures,
        "next_probe_at": timestamp(circuit.next_probe_at),
        "last_failure": circuit.last_failure,
    }


def throttle_line(claim: ClaimedExport, attempt: Attempt) -> dict:
    throttle = attempt.throttle
    assert throttle is not None, "a throttle that changed is known"
    return {
        "event": "system_throttled",
        "external_system_id": claim.external_system_id,
        "export_id": claim.export_id,
        "throttled_until": timestamp(throttle.until),
        "calls_per_second": None if throttle.rate is None else round(throttle.rate, 2),
    }


def _probe_line(claim: ClaimedExport) -> dict:
    return {
        "event": "circuit_probe",
        "external_system_id": claim.external_system_id,
        "export_id": claim.export_id,
        "attempt": claim.attempt,
    }


def describe(error: BaseException) -> str:
    """The error's type, first line and where it was raised: one line for the log."""
    first_line = next(iter(str(error).strip().splitlines()), "")
    text = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    return f"{text} (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else text


class Backoff:
    """Waits that double with each failure in a row, from `first` up to `longest`."""

    def __init__(self, first: float, longest: float):
        self.first = first
        self.longest = max(first, longest)
        self.failures = 0

    def failed(self) -> float:
        delay = min(self.longest, self.first * 2**self.failures)
        self.failures = min(self.failures + 1, 32)
        return delay

    def succeeded(self) -> None:
        self.failures = 0
