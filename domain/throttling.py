"""Each external system's throttle: how the workers, together, keep to the rate that
CCD's gateway allows, learnt from its 429s.

A 429 sets two things, shared by every worker through the database:
- a pause: no call before CCD's Retry-After (bounded) has passed;
- a pace: a rate of calls a second (cut by a quarter at each 429, growing by one call
  a second every second without one), handed out as time slots when exports are
  claimed, so that workers on many machines share it instead of each finding the limit.

A 429 answered while a pause is in force is a call that left before its worker knew:
it changes nothing. Without a 429 for `PACING_SECONDS` the pace is dropped.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import attrs
from attrs import frozen

# CCD's Retry-After, when it sends none, and the range it is held to (RFC 9110 counts in
# whole seconds; a far date or a huge number must not stop the exports for long).
DEFAULT_RETRY_AFTER_SECONDS = 1.0
MIN_RETRY_AFTER_SECONDS = 1.0
MAX_RETRY_AFTER_SECONDS = 60.0
CUT = 0.75  # the pace after a 429, as a share of the pace before it
GROWTH_PER_SECOND = 1.0  # calls a second added to the pace for every second without a 429
MIN_RATE = 0.5  # calls a second: the slowest pace, so that a slot is never far off
PACING_SECONDS = 600.0
# How far ahead a claim may take slots: the longest an attempt waits for its slot.
HORIZON_SECONDS = 0.5
# Claims in flight over how long they have been held, when a first 429 arrives: a span
# shorter than this is counted as this, so that a burst does not read as a huge rate.
MIN_OBSERVED_SPAN_SECONDS = 0.1


@frozen
class Throttle:
    """A system's throttle; a system without one stored is neither paused nor paced."""

    until: datetime | None = None  # no call before this (CCD's Retry-After)
    rate: float | None = None  # calls a second allowed at `cut_at`
    cut_at: datetime | None = None  # the last 429 that changed the pace
    next_call_at: datetime | None = None  # the next free slot

    def paused(self, now: datetime) -> bool:
        return self.until is not None and self.until > now

    def rate_at(self, now: datetime) -> float | None:
        """The pace now, or None when the system is not paced."""
        if self.rate is None or self.cut_at is None:
            return None
        since = max(0.0, (now - self.cut_at).total_seconds())
        if since > PACING_SECONDS:
            return None
        return self.rate + since * GROWTH_PER_SECOND


def paced_since(now: datetime) -> datetime:
    """A throttle whose pace was cut after this is pacing its system now."""
    return now - timedelta(seconds=PACING_SECONDS)


def bounded_retry_after(seconds: float | None) -> float:
    """How long to pause for CCD's Retry-After (None: it sent none, or one unreadable)."""
    if seconds is None or seconds != seconds:
        return DEFAULT_RETRY_AFTER_SECONDS
    return min(MAX_RETRY_AFTER_SECONDS, max(MIN_RETRY_AFTER_SECONDS, seconds))


def observed_rate(claims_in_flight: int, oldest_claim_at: datetime | None, now: datetime) -> float:
    """The calls a second the workers were making: the claims they hold over how long
    the oldest has been held (each claim is one call, made or about to be)."""
    if claims_in_flight <= 0 or oldest_claim_at is None:
        return MIN_RATE
    span = max(MIN_OBSERVED_SPAN_SECONDS, (now - oldest_claim_at).total_seconds())
    return claims_in_flight / span


def after_rate_limit(throttle: Throttle, now: datetime, retry_after: float | None, observed: float) -> Throttle:
    """The throttle after a 429: paused for the (bounded) Retry-After, and paced a quarter
    slower than before (or than `observed`, the rate found too fast, on a first 429)."""
    if throttle.paused(now):
        return throttle
    before = throttle.rate_at(now)
    rate = max(MIN_RATE, (observed if before is None else before) * CUT)
    until = now + timedelta(seconds=bounded_retry_after(retry_after))
    return Throttle(until=until, rate=rate, cut_at=now, next_call_at=until)


def free_slots(throttle: Throttle, now: datetime, limit: int) -> int:
    """How many calls a claim may take slots for now (at most `limit`); 0 while paused."""
    if throttle.paused(now) or limit <= 0:
        return 0
    rate = throttle.rate_at(now)
    if rate is None:
        return limit
    start = next_slot(throttle, now)
    ahead = (now + timedelta(seconds=HORIZON_SECONDS) - start).total_seconds()
    return 0 if ahead < 0 else min(limit, math.floor(ahead * rate) + 1)


def take_slots(throttle: Throttle, now: datetime, count: int) -> tuple[list[datetime], Throttle]:
    """The start times of `count` calls, one slot apart, and the throttle after them."""
    rate = throttle.rate_at(now)
    if rate is None or count <= 0:
        return [], throttle
    start = next_slot(throttle, now)
    slots = [start + timedelta(seconds=index / rate) for index in range(count)]
    return slots, attrs.evolve(throttle, next_call_at=start + timedelta(seconds=count / rate))


def claimable_at(throttle: Throttle, now: datetime) -> datetime | None:
    """When a claim may next take an export of the system: at the pause's end, or when
    its next slot comes within the horizon; None if the throttle holds nothing back."""
    if throttle.paused(now):
        return throttle.until
    if throttle.rate_at(now) is None:
        return None
    return max(now, next_slot(throttle, now) - timedelta(seconds=HORIZON_SECONDS))


def next_slot(throttle: Throttle, now: datetime) -> datetime:
    """When the system's next call may start: now, or its next free slot, or the pause's end."""
    # Idle time earns no credit: a slot not taken in time is gone.
    candidates = [now, *(at for at in (throttle.next_call_at, throttle.until) if at is not None)]
    return max(candidates)
