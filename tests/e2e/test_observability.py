"""Instant pickup and the worker's own /metrics through a real `worker` process, on each
database (the API's /metrics under gunicorn: test_export_responses_http.py)."""

from __future__ import annotations

import os
import signal

import pytest
import requests

from tests.auth import AUTHORIZATION, TEST_TOKEN
from tests.e2e.conftest import REQUEST_TIMEOUT
from tests.e2e.test_worker_processes import (
    _output,
    _prepare,
    export_summary,
    finish,
    queue_exports,
    start_worker,
    wait_for,
)
from tests.metrics import value
from tests.pgbouncer import engine_for, past_the_pooler, service_environment
from tests.postgres import free_port

pytestmark = pytest.mark.e2e


def _scrape(url: str) -> str:
    reply = requests.get(url, headers=AUTHORIZATION, timeout=REQUEST_TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.text


def test_an_idle_worker_starts_an_export_at_once_and_serves_its_own_metrics(database_url, fake_ccd, tmp_path):
    engine = _prepare(engine_for(database_url))
    port = free_port()
    extra = {"API_TOKENS": TEST_TOKEN, "EXPORT_RESPONSES_DATA_DIR": str(tmp_path)}
    if service_environment(database_url):  # behind PgBouncer: LISTEN past it
        extra["DATABASE_DIRECT_URL"] = past_the_pooler(database_url)
    # A poll far longer than the test: only the wake-up can start the export in time.
    worker = start_worker(
        database_url, fake_ccd, tmp_path, "--poll", "300", "--metrics-bind", f"127.0.0.1:{port}", **extra
    )
    try:
        wait_for(lambda: "queue_listener_ready" in _output(worker))
        queue_exports(engine, [21])
        wait_for(lambda: export_summary(engine)[0] == {"complete": 1}, timeout=20)
        metrics = f"http://127.0.0.1:{port}/metrics"
        assert requests.get(metrics, timeout=REQUEST_TIMEOUT).status_code == 401
        text = _scrape(metrics)
        assert value(text, "export_responses_attempts_total", outcome="complete") == 1
        assert value(text, "export_responses_ccd_call_duration_seconds_count", service="data_store", outcome="ok") == 1
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        finish(worker, timeout=30)
        engine.dispose()
