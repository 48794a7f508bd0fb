"""When a failed export is tried again, and when it is given up."""

from __future__ import annotations

import random
from collections.abc import Callable

from attrs import frozen

ORIGINAL_RETRIES = 8
# Attempts beyond the schedule: when its last retry fails transiently, CCD may be starting
# an outage that the circuit breaker has not yet counted, so the export is tried once more
# before it is given up (application/attempts.py says when).
OUTAGE_GRACE_ATTEMPTS = 1


def original_delay(retry: int, draw: Callable[[int, int], int] = random.randint) -> float:
    """The original exporter's delay before retry `retry` (0-based): n**6 + 15 + jitter."""
    return retry**6 + 15 + draw(0, 29) * (retry + 1)


@frozen
class RetrySchedule:
    """Fixed delays (seconds), one per retry; or, with none given, the original's eight."""

    delays: tuple[float, ...] | None = None

    @property
    def retries(self) -> int:
        return ORIGINAL_RETRIES if self.delays is None else len(self.delays)

    @property
    def max_attempts(self) -> int:
        """The attempts the schedule plans: the first and one per retry."""
        return self.retries + 1

    @property
    def most_attempts(self) -> int:
        """The most an export is charged: the schedule's and the outage grace."""
        return self.max_attempts + OUTAGE_GRACE_ATTEMPTS

    def delay_after(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt `attempt` (1-based); None once retries are spent."""
        retry = attempt - 1
        if retry >= self.retries:
            return None
        return original_delay(retry) if self.delays is None else self.delays[retry]


def parse_delays(text: str) -> tuple[float, ...]:
    """`"5,30,600"` -> (5.0, 30.0, 600.0); `"none"` -> no retries. Raises ValueError."""
    if text.strip().lower() == "none":
        return ()
    delays = tuple(float(part) for part in text.split(","))
    if any(delay < 0 or delay != delay for delay in delays):
        raise ValueError("delays must be numbers of seconds, zero or more")
    return delays
