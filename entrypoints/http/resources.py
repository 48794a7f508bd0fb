"""Falcon resources: long-lived, holding services, never per-request state."""

from __future__ import annotations

import falcon

from entrypoints.bootstrap import Services
from entrypoints.http import errors
from entrypoints.http.parsing import parse_export_responses
from entrypoints.http.received import received
from entrypoints.http.rendering import JSON, body_bytes, render


class ExportResponsesResource:
    def __init__(self, services: Services):
        self.services = services
        self.max_body_bytes = services.settings.max_body_bytes

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = errors.read_json_body(req, self.max_body_bytes)
        command = parse_export_responses(raw)
        req.context.command_uuid = command.uuid
        render(resp, self.services.export_responses(command, received(req, raw)))


class HealthResource:
    def __init__(self, services: Services):
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = JSON
        if self.services.database_answers():
            resp.data = body_bytes({"status": "ok", "database": "ok"})
            return
        resp.status = 503
        resp.set_header("Retry-After", str(errors.RETRY_AFTER_SECONDS))
        error = errors.error_body(503, "service_unavailable", "The database does not answer")
        resp.data = body_bytes({"status": "unavailable", "database": "unavailable", "errors": [error]})
