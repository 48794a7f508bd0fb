"""Every failure as the error envelope: HTTP-level refusals, outages and bugs alike."""

from __future__ import annotations

import http
import logging
import uuid

import falcon

from application.ports import StoreUnavailable
from domain.results import CommandError, CommandResult, envelope
from entrypoints.http.auth import Unauthenticated
from entrypoints.http.middleware import SECURITY_HEADERS
from entrypoints.http.parsing import Rejected
from entrypoints.http.rendering import JSON, body_bytes, render

LOG = logging.getLogger("export_responses.http")
RETRY_AFTER_SECONDS = 5

_HTTP_ERROR_CODES = {
    400: ("bad_request", None),
    404: ("not_found", "No route matches {method} {path}"),
    405: ("method_not_allowed", "{method} is not allowed on {path}"),
    413: ("payload_too_large", "The request body is larger than {limit} bytes"),
    415: ("unsupported_media_type", "The request body must be JSON (Content-Type: application/json)"),
}


def error_body(status: int, code: str, message: str, source: str = "/") -> dict:
    return {
        "status": status,
        "code": code,
        "title": message,
        "detail": message,
        "source": source,
        "command": None,
        "uuid": None,
    }


def _refusal(status: int, code: str, message: str) -> CommandResult:
    return CommandResult.reject(None, None, [CommandError(status, code, message, message, "/", None, None)])


def raw_error_reply(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 reply in the envelope, with the service's headers, closing the
    connection: for the server's own refusals, made before any request reaches the app."""
    body = body_bytes(envelope(_refusal(status, code, message)))
    headers = {
        "Content-Type": JSON,
        "Content-Length": str(len(body)),
        "Connection": "close",
        **SECURITY_HEADERS,
        "X-Request-Id": str(uuid.uuid4()),
        "X-Runtime": "0.000000",
    }
    head = f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode("latin-1") + body


def handle_rejected(req, resp, error: Rejected, params) -> None:
    render(resp, error.result)


def handle_http_error(req, resp, error: falcon.HTTPError, params) -> None:
    code, template = _HTTP_ERROR_CODES.get(error.status_code, ("http_error", None))
    if template:
        message = template.format(method=req.method, path=req.path, limit=error.description)
    else:
        message = error.description or error.title
    render(resp, _refusal(error.status_code, code, message))
    resp.status = error.status_code
    if error.headers:
        resp.set_headers(error.headers)


def handle_store_unavailable(req, resp, error: StoreUnavailable, params) -> None:
    LOG.warning("database unavailable: %s", error)
    render(
        resp,
        _refusal(503, "service_unavailable", "The database does not answer; nothing was written. Try again shortly"),
    )
    resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))


def handle_unauthenticated(req, resp, error: Unauthenticated, params) -> None:
    render(resp, _refusal(401, error.code, error.message))
    resp.set_header("WWW-Authenticate", error.challenge)


def handle_unexpected(req, resp, error: Exception, params) -> None:
    LOG.exception("unexpected error in %s %s (request %s)", req.method, req.path, req.context.request_id)
    render(
        resp,
        _refusal(500, "internal_error", f"Something went wrong on our side; quote request id {req.context.request_id}"),
    )


def register(app: falcon.App) -> None:
    # Falcon picks the most specific handler for an exception's class.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(StoreUnavailable, handle_store_unavailable)
    app.add_error_handler(Rejected, handle_rejected)
    app.add_error_handler(Unauthenticated, handle_unauthenticated)
