"""Every failure as the error envelope: HTTP-level refusals, outages and bugs alike."""

from __future__ import annotations

import http
import logging
import uuid

import falcon

from application.ports import StoreUnavailable
from domain.results import CommandResult
from entrypoints.converter import CONVERTER
from entrypoints.http.auth import Unauthenticated
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.middleware import SECURITY_HEADERS
from entrypoints.http.parsing import Rejected
from entrypoints.http.rendering import JSON, body_bytes, http_status, render

LOG = logging.getLogger("export_responses.http")
RETRY_AFTER_SECONDS = 5

# Falcon's own refusals (and the ones we raise as Falcon errors), by status.
_FALCON_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def refusal(code: str, **facts) -> CommandResult:
    """A refusal outside any command: one error, its source the whole request."""
    return CommandResult.reject(None, None, [CATALOGUE.error(code, **facts)])


def raw_error_reply(code: str, **facts) -> bytes:
    """A whole HTTP/1.1 reply in the envelope, with the service's headers, closing the
    connection: for the server's own refusals, made before any request reaches the app."""
    result = refusal(code, **facts)
    status = http_status(result)
    body = body_bytes(CONVERTER.unstructure(result))
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
    code = _FALCON_CODES.get(error.status_code)
    if code is None:
        if error.status_code >= 500:
            handle_unexpected(req, resp, error, params)
            return
        # A refusal of Falcon's that no code names: still the client's, so a 400.
        LOG.warning("Falcon refused a request with %s; answered as bad_request", error.status)
        code = "bad_request"
    # payload_too_large's limit travels in the description (see parsing.read_json_body).
    facts = {"method": req.method, "path": req.path, "limit": error.description}
    render(resp, refusal(code, reason=error.description or error.title, **facts))
    if error.headers:
        resp.set_headers(error.headers)


def handle_store_unavailable(req, resp, error: StoreUnavailable, params) -> None:
    LOG.warning("database unavailable: %s", error)
    render(
        resp,
        refusal("service_unavailable", reason="does not answer; nothing was written. Try again shortly"),
    )
    resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))


def handle_unauthenticated(req, resp, error: Unauthenticated, params) -> None:
    render(resp, refusal(error.code, reason=error.reason))
    resp.set_header("WWW-Authenticate", error.challenge)


def handle_unexpected(req, resp, error: Exception, params) -> None:
    LOG.exception("unexpected error in %s %s (request %s)", req.method, req.path, req.context.request_id)
    reason = f"Something went wrong on our side; quote request id {req.context.request_id}"
    render(resp, refusal("internal_error", reason=reason))


def register(app: falcon.App) -> None:
    # Falcon picks the most specific handler for an exception's class.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(StoreUnavailable, handle_store_unavailable)
    app.add_error_handler(Rejected, handle_rejected)
    app.add_error_handler(Unauthenticated, handle_unauthenticated)
