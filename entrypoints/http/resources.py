"""Falcon resources: long-lived, holding services, never per-request state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import falcon

from application.ports import Received
from domain.commands import ExportResponses
from domain.results import CommandResult
from entrypoints.converter import CONVERTER
from entrypoints.http import errors
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.parsing import parse_export_responses, read_json_body
from entrypoints.http.received import received
from entrypoints.http.rendering import JSON, body_bytes, render

HEALTH_PATH = "/health"
LIVENESS_PATH = "/health/liveness"
READINESS_PATH = "/health/readiness"
READINESS_CACHE_SECONDS = 1.0


class ExportResponsesResource:
    """POST /api/v2/exports/export_responses: the command, within the settings' limits."""

    def __init__(
        self,
        handle: Callable[[ExportResponses, Received], CommandResult],
        *,
        max_body_bytes: int,
        max_response_ids: int,
        max_errors: int,
    ):
        self.handle = handle
        self.max_body_bytes = max_body_bytes
        self.limits = {"max_response_ids": max_response_ids, "max_errors": max_errors}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = read_json_body(req, self.max_body_bytes)
        command = parse_export_responses(raw, **self.limits)
        req.context.command_uuid = command.uuid
        render(resp, self.handle(command, lambda: received(req, raw)))


class HealthResource:
    """GET /health: the service answers and so does its database (a read)."""

    public = True

    def __init__(self, database_answers: Callable[[], bool]):
        self.database_answers = database_answers

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _health_reply(resp, self.database_answers(), "does not answer")


class LivenessResource:
    """GET /health/liveness: the process is up and serving; it asks nothing of the database."""

    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = JSON
        resp.data = body_bytes({"status": "ok"})


class ReadinessResource:
    """GET /health/readiness: the database answers and takes a durable write now.

    The answer is kept for `READINESS_CACHE_SECONDS`, so that a flood of probes
    costs the database one write a second per process, not one a probe.
    """

    public = True

    def __init__(self, database_accepts_writes: Callable[[], bool], clock: Callable[[], float] = time.monotonic):
        self.database_accepts_writes = database_accepts_writes
        self.clock = clock
        self._lock = threading.Lock()
        self._checked: tuple[float, bool] | None = None

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _health_reply(resp, self._ready(), "does not take writes (unreachable, read-only, full or locked)")

    def _ready(self) -> bool:
        with self._lock:
            now = self.clock()
            if self._checked is None or now - self._checked[0] >= READINESS_CACHE_SECONDS:
                self._checked = (now, self.database_accepts_writes())
            return self._checked[1]


def _health_reply(resp: falcon.Response, healthy: bool, problem: str) -> None:
    """200 when healthy, else a 503 whose error says what the database `problem` is."""
    resp.content_type = JSON
    if healthy:
        resp.data = body_bytes({"status": "ok", "database": "ok"})
        return
    resp.status = 503
    resp.set_header("Retry-After", str(errors.RETRY_AFTER_SECONDS))
    error = CONVERTER.unstructure(CATALOGUE.error("service_unavailable", reason=problem))
    resp.data = body_bytes({"status": "unavailable", "database": "unavailable", "errors": [error]})
