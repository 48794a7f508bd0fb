"""The queue's figures, read from the database when Prometheus scrapes: exports by
system and state, how long the oldest due export has waited, each system's pause and
circuit state.

Two statements a scrape, each bounded by the engine's statement timeout (PostgreSQL)
or lock wait (SQLite); a database that does not answer makes the scrape say
`export_responses_queue_figures_up 0`, never fail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.exc
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from adapters.sql.queue import DUE_SINCE, IS_DUE
from adapters.sql.tables import exports, external_systems, system_controls
from domain.throttling import Throttle

LOG = logging.getLogger("export_responses.metrics")
CIRCUIT_STATES = ("closed", "open", "half_open")

_BY_SYSTEM_AND_STATE = (
    sa.select(
        exports.c.external_system_id,
        exports.c.state,
        sa.func.count().label("exports"),
        sa.func.min(sa.case((IS_DUE, DUE_SINCE))).label("oldest_due"),
    )
    .group_by(exports.c.external_system_id, exports.c.state)
    .order_by(exports.c.external_system_id, exports.c.state)
)
_SYSTEMS = (
    sa.select(
        external_systems.c.id,
        sa.func.coalesce(system_controls.c.circuit_state, "closed").label("circuit_state"),
        system_controls.c.paused_at.is_not(None).label("paused"),
        system_controls.c.throttled_until,
        system_controls.c.throttle_rate,
        system_controls.c.throttle_cut_at,
    )
    .select_from(
        external_systems.outerjoin(system_controls, system_controls.c.external_system_id == external_systems.c.id)
    )
    .order_by(external_systems.c.id)
)


class QueueFiguresCollector(Collector):
    """A custom collector: the families are built afresh from the database at each scrape."""

    def __init__(self, engine: sa.Engine, now: Callable[[], datetime]):
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "export_responses_queue_figures_up", "1 if the queue's figures were read from the database at this scrape"
        )
        try:
            now = self.now()
            with self.engine.connect().execution_options(read_only=True) as connection:
                counts = connection.execute(_BY_SYSTEM_AND_STATE, {"now": now}).all()
                systems = connection.execute(_SYSTEMS).all()
        except sa.exc.SQLAlchemyError as error:
            LOG.warning(json.dumps({"event": "queue_figures_unread", "error": type(error).__name__}))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _export_families(counts, now)
        yield from _system_families(systems, now)


def _export_families(counts, now: datetime) -> Iterator[GaugeMetricFamily]:
    by_state = GaugeMetricFamily(
        "export_responses_exports", "Exports by external system and state", labels=["external_system_id", "state"]
    )
    oldest: dict[int, datetime] = {}
    for system_id, state, count, oldest_due in counts:
        by_state.add_metric([str(system_id), state or "none"], count)
        if oldest_due is not None and (system_id not in oldest or oldest_due < oldest[system_id]):
            oldest[system_id] = oldest_due
    yield by_state
    lag = GaugeMetricFamily(
        "export_responses_queue_lag_seconds", "Age of the oldest due export (0 when none is due), in seconds"
    )
    lag.add_metric([], max((_age(now, since) for since in oldest.values()), default=0.0))
    yield lag
    by_system = GaugeMetricFamily(
        "export_responses_system_queue_lag_seconds",
        "Age of the oldest due export of each external system that has one, in seconds",
        labels=["external_system_id"],
    )
    for system_id, since in sorted(oldest.items()):
        by_system.add_metric([str(system_id)], _age(now, since))
    yield by_system


def _system_families(systems, now: datetime) -> Iterator[GaugeMetricFamily]:
    circuit = GaugeMetricFamily(
        "export_responses_circuit_state",
        "Each external system's circuit breaker: 1 for the state it is in (closed, open, half_open)",
        labels=["external_system_id", "state"],
    )
    paused = GaugeMetricFamily(
        "export_responses_system_paused", "1 if an operator paused exports to the system", labels=["external_system_id"]
    )
    throttled = GaugeMetricFamily(
        "export_responses_system_throttled",
        "1 while CCD's 429s pause or pace the workers' calls for the system (domain/throttling.py)",
        labels=["external_system_id"],
    )
    pace = GaugeMetricFamily(
        "export_responses_system_pace_calls_per_second",
        "The calls a second the workers allow themselves to a throttled system, now",
        labels=["external_system_id"],
    )
    for system_id, circuit_state, is_paused, until, rate, cut_at in systems:
        for state in CIRCUIT_STATES:
            circuit.add_metric([str(system_id), state], 1 if circuit_state == state else 0)
        paused.add_metric([str(system_id)], 1 if is_paused else 0)
        throttle = Throttle(until=until, rate=rate, cut_at=cut_at)
        allowed = throttle.rate_at(now)
        throttled.add_metric([str(system_id)], 1 if throttle.paused(now) or allowed is not None else 0)
        if allowed is not None:
            pace.add_metric([str(system_id)], allowed)
    yield circuit
    yield paused
    yield throttled
    yield pace


def _age(now: datetime, since: datetime) -> float:
    return max(0.0, (now - since).total_seconds())
