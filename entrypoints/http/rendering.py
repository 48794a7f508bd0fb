"""CommandResults to HTTP: the one mapping from error codes to statuses, and the bytes."""

from __future__ import annotations

import json

import falcon

from domain.results import CommandResult, envelope

JSON = "application/json; charset=utf-8"
ACCEPTED = 202

HTTP_STATUS = {
    # rule violations: the contract's 400 (the error objects themselves say 422)
    "external_system_not_found": 400,
    "external_system_not_exporting_responses": 400,
    "response_not_found": 400,
    "too_many_response_ids": 400,
    # shape of the request
    "invalid_json": 400,
    "invalid_body": 400,
    "missing_field": 400,
    "invalid_type": 400,
    "invalid_value": 400,
    "invalid_uuid": 400,
    "empty_list": 400,
    "integer_out_of_range": 400,
    "unknown_command": 400,
    "unreadable_body": 400,
    "incomplete_body": 400,
    "too_many_errors": 400,
    "bad_request": 400,
    "invalid_query_parameter": 400,
    "unknown_field": 400,
    "invalid_state": 400,
    # protocol
    "missing_credentials": 401,
    "invalid_credentials": 401,
    "not_found": 404,
    "export_not_found": 404,
    "method_not_allowed": 405,
    "uuid_conflict": 409,
    # an operator's action the export's state or owner forbids (entrypoints/http/operations.py)
    "export_owned_by_et_api": 409,
    "export_not_retryable": 409,
    "export_not_cancellable": 409,
    "export_already_pending": 409,
    "export_changed": 409,
    "payload_too_large": 413,
    "request_timeout": 408,
    "uri_too_long": 414,
    "expectation_failed": 417,
    "headers_too_large": 431,
    "unsupported_transfer_coding": 501,
    "unsupported_media_type": 415,
    "internal_error": 500,
    "service_unavailable": 503,
}


def http_status(result: CommandResult) -> int:
    if result.accepted:
        return ACCEPTED
    return HTTP_STATUS.get(result.errors[0].code, 400)


def body_bytes(document) -> bytes:
    # ASCII with \u escapes: a client's lone surrogate ("\ud800"), echoed in an
    # error, cannot be encoded as UTF-8 but can be escaped.
    return json.dumps(document, separators=(",", ":")).encode()


def render(resp: falcon.Response, result: CommandResult) -> None:
    resp.status = http_status(result)
    resp.content_type = JSON
    resp.data = body_bytes(envelope(result))
