"""The figures the service counts as it goes, as Prometheus families (prometheus_client).

Every label takes few values: an outcome from a short list, a route's template (never
the raw path), a status code, one of CCD's three services. Under gunicorn the values
live in PROMETHEUS_MULTIPROC_DIR (see multiprocess.py), so a scrape of any worker
process adds up all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# From a fast SQLite reply to CCD's read timeout (25 s by default).
_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0)


class PrometheusMetrics:
    """The families of one process, registered in `registry` (None: read from the
    multiprocess folder instead, by the scrape's own collector)."""

    def __init__(self, registry: CollectorRegistry | None):
        self.commands = Counter(
            "export_responses_commands",
            "ExportResponses commands answered, by outcome (accepted, replayed, rejected, conflict)",
            ["outcome"],
            registry=registry,
        )
        self.requests = Histogram(
            "export_responses_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status",
            ["route", "method", "status"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.ccd_calls = Histogram(
            "export_responses_ccd_call_duration_seconds",
            "Calls to CCD and how long each took, by service (auth, idam, data_store) and outcome",
            ["service", "outcome"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.attempts = Counter(
            "export_responses_attempts",
            "Export attempts the worker ended, by outcome (complete, erroring, failed, crashed, claim_lost...)",
            ["outcome"],
            registry=registry,
        )

        # The children each answer counts into, found once: `labels()` checks its values
        # and takes a lock on every call. As many as the labels' values (each bounded).
        self._command_children: dict[str, Counter] = {}
        self._request_children: dict[tuple[str, str, int], Histogram] = {}

    def command(self, outcome: str) -> None:
        child = self._command_children.get(outcome)
        if child is None:
            child = self._command_children[outcome] = self.commands.labels(outcome)
        child.inc()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(route, method, str(status))
        child.observe(seconds)

    def ccd_call(self, service: str, outcome: str, seconds: float) -> None:
        self.ccd_calls.labels(service.replace(" ", "_"), outcome).observe(seconds)

    def attempt(self, outcome: str) -> None:
        self.attempts.labels(outcome).inc()


class Scrape:
    """What GET /metrics answers: this process's families (or every process's, from the
    multiprocess folder) and the figures `collectors` read when scraped."""

    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self, collectors: Iterable[Collector] = (), multiprocess_dir: str | None = None):
        self.registry = CollectorRegistry()
        directory = multiprocess_dir if multiprocess_dir is not None else os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            MultiProcessCollector(self.registry, directory)
            self.metrics = PrometheusMetrics(registry=None)
        else:
            self.metrics = PrometheusMetrics(self.registry)
        for collector in collectors:
            self.add(collector)

    def add(self, collector: Collector) -> None:
        """Figures read afresh at each scrape (the queue's, from the database)."""
        self.registry.register(collector)

    def text(self) -> bytes:
        return generate_latest(self.registry)
