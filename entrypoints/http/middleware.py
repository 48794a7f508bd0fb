"""Headers every reply carries, one structured log line per request, and its duration
in the metrics. The request's id is in every line logged while it is served."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import falcon
from falcon.constants import COMBINED_METHODS

from entrypoints.http.metrics import route_of
from entrypoints.logs import REQUEST_ID, Event

ACCESS_LOG = logging.getLogger("export_responses.access")

SECURITY_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-XSS-Protection": "1; mode=block",
    "X-Content-Type-Options": "nosniff",
    "X-Download-Options": "noopen",
    "X-Permitted-Cross-Domain-Policies": "none",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-cache",
}


class RequestContext:
    """Gives each request an id and a start time; stamps, logs and times every reply.

    `observe(route, method, status, seconds)` is told of every reply (the metrics)."""

    def __init__(self, observe: Callable[[str, str, int, float], None] | None = None):
        self.observe = observe

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.request_id = str(uuid.uuid4())
        req.context.request_id_token = REQUEST_ID.set(req.context.request_id)
        req.context.command_uuid = None

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        try:
            self._reply(req, resp)
        finally:
            # gunicorn's threads serve one request after another: the next must not inherit this id.
            REQUEST_ID.reset(req.context.request_id_token)

    def _reply(self, req: falcon.Request, resp: falcon.Response) -> None:
        runtime = time.perf_counter() - req.context.started
        resp.set_headers(SECURITY_HEADERS)
        resp.set_header("X-Request-Id", req.context.request_id)
        resp.set_header("X-Runtime", f"{runtime:.6f}")
        # Only what identifies the request: no body, no query string, no headers.
        ACCESS_LOG.info(
            Event(
                {
                    "event": "request",
                    "method": req.method,
                    "path": req.path,
                    "status": resp.status_code,
                    "request_id": req.context.request_id,
                    "runtime": round(runtime, 6),
                    "command_uuid": req.context.command_uuid,
                }
            )
        )
        if self.observe is not None:
            method = req.method if req.method in COMBINED_METHODS else "other"  # a client's word: bounded
            self.observe(route_of(req), method, resp.status_code, runtime)
