"""Headers every reply carries, and one structured log line per request."""

from __future__ import annotations

import json
import logging
import time
import uuid

import falcon

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
    """Gives each request an id and a start time; stamps and logs every reply."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.request_id = str(uuid.uuid4())
        req.context.command_uuid = None

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        runtime = time.perf_counter() - req.context.started
        resp.set_headers(SECURITY_HEADERS)
        resp.set_header("X-Request-Id", req.context.request_id)
        resp.set_header("X-Runtime", f"{runtime:.6f}")
        # Only what identifies the request: no body, no query string, no headers.
        ACCESS_LOG.info(
            json.dumps(
                {
                    "method": req.method,
                    "path": req.path,
                    "status": resp.status_code,
                    "request_id": req.context.request_id,
                    "runtime": round(runtime, 6),
                    "command_uuid": req.context.command_uuid,
                }
            )
        )
