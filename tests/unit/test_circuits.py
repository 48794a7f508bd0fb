"""The circuit breaker's and the failure kinds' rules, as pure functions; the circuit settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.circuits import (
    Circuit,
    CircuitPolicy,
    CircuitState,
    after_answer,
    after_no_call,
    after_transient_failure,
    start_probe,
    transition,
)
from domain.failures import FailureKind, kind_of_status
from entrypoints.config import ConfigError, Settings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = CircuitPolicy(failures_to_open=3, first_probe_seconds=10, max_probe_seconds=60)


def failed(circuit: Circuit, times: int = 1, now: datetime = NOW) -> Circuit:
    for _ in range(times):
        circuit = after_transient_failure(circuit, "CCD data store answered 502 to the case search", now, POLICY)
    return circuit


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        *((status, FailureKind.PERMANENT) for status in (400, 404, 405, 409, 410, 422, 499)),
        *((status, FailureKind.TRANSIENT) for status in (401, 403, 408, 429, 500, 502, 503, 504, 302)),
    ],
)
def test_4xx_but_denials_timeouts_and_rate_limits_is_permanent(status, kind):
    assert kind_of_status(status) is kind


def test_the_circuit_opens_at_the_threshold_of_failures_in_a_row():
    assert failed(Circuit(), 2) == Circuit(
        consecutive_failures=2, last_failure="CCD data store answered 502 to the case search"
    )
    opened = failed(Circuit(), 3)
    assert (opened.state, opened.opened_at, opened.next_probe_at, opened.probe_interval_seconds) == (
        CircuitState.OPEN,
        NOW,
        NOW + timedelta(seconds=10),
        10,
    )
    assert transition(failed(Circuit(), 2), opened) == "circuit_opened"


def test_each_failed_probe_doubles_the_wait_up_to_the_longest():
    circuit = failed(Circuit(), 3)
    waits = []
    for _ in range(5):
        probing = start_probe(circuit, circuit.next_probe_at, circuit.next_probe_at + timedelta(seconds=300))
        assert probing is not None and probing.state is CircuitState.HALF_OPEN
        later = probing.next_probe_at - timedelta(seconds=299)
        circuit = failed(probing, now=later)
        assert transition(probing, circuit) == "circuit_reopened"
        waits.append((circuit.next_probe_at - later).total_seconds())
    assert waits == [20, 40, 60, 60, 60]
    assert circuit.opened_at == NOW  # still the outage that began then


def test_a_failure_of_an_attempt_begun_before_the_circuit_opened_keeps_its_probe_time():
    opened = failed(Circuit(), 3)
    late = failed(opened, now=NOW + timedelta(seconds=5))
    assert (late.state, late.next_probe_at, late.consecutive_failures) == (CircuitState.OPEN, opened.next_probe_at, 4)


def test_an_answer_closes_the_circuit_and_keeps_the_last_failure_for_operators():
    probing = start_probe(failed(Circuit(), 3), NOW + timedelta(seconds=10), NOW + timedelta(seconds=300))
    closed = after_answer(probing)
    assert closed == Circuit(last_failure="CCD data store answered 502 to the case search")
    assert transition(probing, closed) == "circuit_closed"
    assert after_answer(failed(Circuit(), 2)).consecutive_failures == 0
    assert after_answer(Circuit()) == Circuit()


def test_a_probe_that_never_asked_ccd_gives_way_to_another_at_once():
    probing = start_probe(failed(Circuit(), 3), NOW + timedelta(seconds=10), NOW + timedelta(seconds=300))
    later = NOW + timedelta(seconds=11)
    assert after_no_call(probing, later) == Circuit(
        CircuitState.OPEN, 3, NOW, later, 10, "CCD data store answered 502 to the case search"
    )
    assert after_no_call(failed(Circuit(), 2), later) == failed(Circuit(), 2)


def test_a_probe_is_due_at_its_time_and_again_once_a_lost_one_is_held_too_long():
    opened = failed(Circuit(), 3)
    assert start_probe(Circuit(), NOW, NOW) is None
    assert start_probe(opened, NOW + timedelta(seconds=9), NOW) is None
    held = start_probe(opened, NOW + timedelta(seconds=10), NOW + timedelta(seconds=310))
    assert start_probe(held, NOW + timedelta(seconds=309), NOW + timedelta(seconds=600)) is None
    taken_over = start_probe(held, NOW + timedelta(seconds=310), NOW + timedelta(seconds=610))
    assert taken_over is not None and taken_over.next_probe_at == NOW + timedelta(seconds=610)


@pytest.mark.parametrize(
    "changes",
    [{"failures_to_open": 0}, {"first_probe_seconds": 0}, {"max_probe_seconds": -1}],
)
def test_a_policy_needs_positive_figures(changes):
    with pytest.raises(ValueError, match="must be more than 0"):
        CircuitPolicy(**changes)


def worker_settings(**environ) -> Settings:
    return Settings.from_environ({"EXPORT_RESPONSES_DATA_DIR": "/tmp/unused", **environ})


def test_the_circuit_settings_default_to_five_failures_and_probes_from_10_s_to_10_minutes():
    assert worker_settings().circuit == CircuitPolicy(failures_to_open=5, first_probe_seconds=10, max_probe_seconds=600)
    chosen = worker_settings(CIRCUIT_FAILURES="3", CIRCUIT_FIRST_PROBE_SECONDS="0.5", CIRCUIT_MAX_PROBE_SECONDS="60")
    assert chosen.circuit == CircuitPolicy(failures_to_open=3, first_probe_seconds=0.5, max_probe_seconds=60)


@pytest.mark.parametrize(
    ("environ", "error"),
    [
        ({"CIRCUIT_FAILURES": "0"}, "CIRCUIT_FAILURES must be at least 1, not 0"),
        ({"CIRCUIT_FAILURES": "many"}, "CIRCUIT_FAILURES must be a whole number, not 'many'"),
        ({"CIRCUIT_FIRST_PROBE_SECONDS": "-1"}, "CIRCUIT_FIRST_PROBE_SECONDS must be more than 0"),
        (
            {"CIRCUIT_FIRST_PROBE_SECONDS": "60", "CIRCUIT_MAX_PROBE_SECONDS": "30"},
            "CIRCUIT_MAX_PROBE_SECONDS (30) must be at least CIRCUIT_FIRST_PROBE_SECONDS (60)",
        ),
    ],
)
def test_circuit_settings_that_cannot_work_are_refused_by_name(environ, error):
    with pytest.raises(ConfigError) as refused:
        worker_settings(**environ)
    assert str(refused.value).startswith(error)
