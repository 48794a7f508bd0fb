"""Each external system's circuit breaker: after consecutive transient failures the
worker stops attempting that system's exports, and probes CCD with one export at
growing intervals until it answers again.

The state is shared by every worker through the database; these pure functions say
how it changes, and both stores apply them.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import frozen


class CircuitState(enum.StrEnum):
    CLOSED = "closed"  # exports are attempted
    OPEN = "open"  # none is, until `next_probe_at`
    HALF_OPEN = "half_open"  # one probe is being attempted, until `next_probe_at`


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be more than 0, not {value!r}")


@frozen
class CircuitPolicy:
    failures_to_open: int = attrs.field(default=5, validator=_positive)
    first_probe_seconds: float = attrs.field(default=10.0, validator=_positive)
    max_probe_seconds: float = attrs.field(default=600.0, validator=_positive)


@frozen
class Circuit:
    """A system's breaker; a system without one stored has the default: closed, no failures."""

    state: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    next_probe_at: datetime | None = None
    probe_interval_seconds: float | None = None
    last_failure: str | None = None

    @property
    def is_closed(self) -> bool:
        return self.state is CircuitState.CLOSED


def after_transient_failure(circuit: Circuit, message: str, now: datetime, policy: CircuitPolicy) -> Circuit:
    """A transient failure: counted; enough in a row open the circuit, a failed probe
    opens it again for twice as long (up to the policy's longest interval)."""
    failures = circuit.consecutive_failures + 1
    counted = attrs.evolve(circuit, consecutive_failures=failures, last_failure=message)
    if circuit.state is CircuitState.HALF_OPEN:
        previous = circuit.probe_interval_seconds or policy.first_probe_seconds
        return _open(counted, now, min(policy.max_probe_seconds, previous * 2), circuit.opened_at or now)
    if circuit.state is CircuitState.CLOSED and failures >= policy.failures_to_open:
        return _open(counted, now, min(policy.max_probe_seconds, policy.first_probe_seconds), now)
    return counted  # an attempt started before the circuit opened: its schedule stands


def after_answer(circuit: Circuit) -> Circuit:
    """CCD answered (a case, or a refusal that is the export's fault): it is up, so the
    circuit closes and the count starts again. The last failure stays, for operators."""
    if circuit.is_closed and circuit.consecutive_failures == 0:
        return circuit
    return Circuit(last_failure=circuit.last_failure)


def after_no_call(circuit: Circuit, now: datetime) -> Circuit:
    """The attempt never asked CCD (e.g. the system has no case type): it proved nothing,
    so a probe it was gives way to another at once."""
    if circuit.state is CircuitState.HALF_OPEN:
        return attrs.evolve(circuit, state=CircuitState.OPEN, next_probe_at=now)
    return circuit


def start_probe(circuit: Circuit, now: datetime, hold_until: datetime) -> Circuit | None:
    """The circuit while one export probes CCD, if a probe is due now; else None.

    A probe held past `hold_until` (its worker died) is due again, so that a lost probe
    does not keep the circuit half open for ever.
    """
    if circuit.is_closed or circuit.next_probe_at is None or circuit.next_probe_at > now:
        return None
    return attrs.evolve(circuit, state=CircuitState.HALF_OPEN, next_probe_at=hold_until)


def _open(circuit: Circuit, now: datetime, interval: float, opened_at: datetime) -> Circuit:
    return attrs.evolve(
        circuit,
        state=CircuitState.OPEN,
        opened_at=opened_at,
        probe_interval_seconds=interval,
        next_probe_at=now + timedelta(seconds=interval),
    )


def transition(before: Circuit, after: Circuit) -> str | None:
    """The name of the change worth a log line, if the state changed."""
    if before.state is after.state:
        return None
    if after.state is CircuitState.HALF_OPEN:
        return "circuit_probe"
    if after.state is CircuitState.CLOSED:
        return "circuit_closed"
    return "circuit_reopened" if before.state is CircuitState.HALF_OPEN else "circuit_opened"
