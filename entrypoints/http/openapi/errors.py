"""The error replies of the document: which codes each operation can answer with,
and one reply per status they give, from the error catalogue."""

from __future__ import annotations

from typing import Any

from domain.errors import RULES
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.openapi.replies import REF, headers_for

# The codes each operation can answer with (each must be declared in the catalogue, which
# gives its status); a declared code that no operation lists fails tests/unit/test_openapi.py.
AUTH_CODES = ("missing_credentials", "invalid_credentials")
# Every rule the domain declares is the command's: a new one needs only its declaration.
RULE_CODES = tuple(code.code for code in RULES)
SHAPE_CODES = (
    "invalid_json",
    "invalid_body",
    "missing_field",
    "invalid_type",
    "invalid_value",
    "invalid_uuid",
    "empty_list",
    "integer_out_of_range",
    "unknown_command",
    "unreadable_body",
    "incomplete_body",
    "bad_request",
)
COMMAND_CODES = (
    *RULE_CODES,
    *SHAPE_CODES,
    "payload_too_large",
    "unsupported_media_type",
    "service_unavailable",
    "internal_error",
)
# The server's own refusals, before a request reaches a route: possible on every operation.
SERVER_CODES = (
    "request_timeout",
    "uri_too_long",
    "headers_too_large",
    "expectation_failed",
    "unsupported_transfer_coding",
)
# Not any operation's: an unrouted path, and a method the path does not take.
UNROUTED_CODE, UNSUPPORTED_METHOD_CODE = "not_found", "method_not_allowed"

STATUS_DESCRIPTIONS = {
    400: (
        "Not accepted. As the original documented, the reply is a 400 while each error object says 422 "
        "for a broken rule or a bad field (400 for a body that is no JSON object at all); clients read "
        "that status. Rule errors come in order: the external system's, then one response_not_found per "
        "distinct missing id, in the order sent. Rejected commands are not logged: sending one again "
        "evaluates it afresh."
    ),
    401: "No credential, or not one this service accepts. Nothing was written.",
    404: "Nothing is found here.",
    405: "The path does not take this method; Allow lists the ones it takes.",
    409: (
        "The uuid was already used by an accepted command with other data (another external_system_id, "
        "or other response_ids or another order). Nothing was written."
    ),
    408: "The request's headers or body did not arrive within their deadline; the connection is closed.",
    413: "The body is larger than the limit; nothing was read past it.",
    414: "The request line (method, path and query) is longer than the server's limit.",
    417: "The Expect header asks for something other than 100-continue.",
    431: "The request's headers are larger than the server's limits.",
    501: "The Transfer-Encoding is not chunked.",
    415: "The body must be JSON: Content-Type application/json, or any application/*+json type.",
    500: "A bug: the detail quotes the request id (X-Request-Id), never a traceback.",
    503: "The database does not answer; nothing was written. Try again after Retry-After seconds.",
}


def errors(codes: tuple[str, ...]) -> dict[str, Any]:
    """One reply per status that `codes` give: the envelope, its codes limited to those."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CATALOGUE.reply_status(code), []).append(code)
    return {str(status): _error_reply(status, found) for status, found in sorted(by_status.items())}


def _error_reply(status: int, codes: list[str]) -> dict[str, Any]:
    # The reply's status, and the ones its codes print inside the error (422 inside a 400).
    inner = sorted({status, *(CATALOGUE[code].status for code in codes)})
    restriction = {
        "properties": {
            "errors": {
                "items": {
                    "properties": {
                        "status": {"enum": inner},
                        "code": {"enum": codes},
                    }
                }
            }
        }
    }
    return {
        "description": f"{STATUS_DESCRIPTIONS[status]} Codes: {', '.join(codes)}. The error envelope (NotAccepted).",
        "headers": headers_for(status),
        "content": {"application/json": {"schema": {"allOf": [{"$ref": f"{REF}/schemas/NotAccepted"}, restriction]}}},
    }
