"""Every code the API answers with: the domain's rule codes, and the codes of the
request's shape and of the protocol, declared here once each.

Adding a code: one `ErrorCode(...)` below (a rule's goes in domain/errors.py, and the
command's OpenAPI operation lists it by itself), `CATALOGUE.error("the_code", ...)`
where it happens, the operation that answers with it in openapi/errors.py's lists, and
the README's table regenerated (`python -m entrypoints.http.error_codes`); tests fail
on each of these forgotten. Templates whose wording differs from one place to another
take the varying part as a field (`{reason}`); a field's errors read "<field> <problem>".
"""

from __future__ import annotations

from domain.errors import RULES, UNPROCESSABLE, ErrorCode
from domain.operations import OPERATION_RULES

FIELD = "{field} {problem}"

CATALOGUE = RULES.extended(
    # the operators' actions refused (export_not_found among them: also GET's)
    *OPERATION_RULES,
    # the shape of the request: a 400 reply; a field's errors say 422 inside it
    ErrorCode("invalid_json", 400, 400, "The request body is not valid JSON: {reason}"),
    ErrorCode("invalid_body", 400, 400, "The request body must be a JSON object, not {json_type}"),
    ErrorCode("missing_field", 400, UNPROCESSABLE, "{field} is required"),
    ErrorCode("invalid_type", 400, UNPROCESSABLE, FIELD),
    ErrorCode("invalid_value", 400, UNPROCESSABLE, "{field} is not valid"),
    ErrorCode("invalid_uuid", 400, UNPROCESSABLE, FIELD),
    ErrorCode("empty_list", 400, UNPROCESSABLE, FIELD),
    ErrorCode("integer_out_of_range", 400, UNPROCESSABLE, FIELD),
    ErrorCode("unknown_command", 400, UNPROCESSABLE, FIELD),
    ErrorCode(
        "unreadable_body",
        400,
        400,
        "The request body could not be read: its chunked encoding is malformed or it ended early",
    ),
    ErrorCode("incomplete_body", 400, 400, "{reason}"),
    ErrorCode("bad_request", 400, 400, "{reason}"),
    ErrorCode("invalid_query_parameter", 400, UNPROCESSABLE, FIELD),
    ErrorCode("unknown_field", 400, UNPROCESSABLE, FIELD),
    ErrorCode("invalid_state", 400, UNPROCESSABLE, FIELD),
    # the protocol
    ErrorCode("missing_credentials", 401, 401, "This API needs an Authorization: Bearer <token> header"),
    ErrorCode("invalid_credentials", 401, 401, "{reason}"),
    ErrorCode("not_found", 404, 404, "No route matches {method} {path}"),
    ErrorCode("method_not_allowed", 405, 405, "{method} is not allowed on {path}"),
    ErrorCode("request_timeout", 408, 408, "The request's {waited} did not arrive within {limit:g} s"),
    ErrorCode("payload_too_large", 413, 413, "The request body is larger than {limit} bytes"),
    ErrorCode("uri_too_long", 414, 414, "The request line (method, path and query) is too long"),
    ErrorCode("unsupported_media_type", 415, 415, "The request body must be JSON (Content-Type: application/json)"),
    ErrorCode("expectation_failed", 417, 417, "The request's Expect header asks for something other than 100-continue"),
    ErrorCode("headers_too_large", 431, 431, "The request's headers are {reason}"),
    ErrorCode("internal_error", 500, 500, "{reason}"),
    ErrorCode(
        "unsupported_transfer_coding", 501, 501, "The request's Transfer-Encoding is not supported (only chunked)"
    ),
    ErrorCode("service_unavailable", 503, 503, "The database {reason}"),
)


def markdown_table() -> str:
    """The README's table of error codes, one row per code in declaration order."""
    rows = ["| code | reply | status in the error | message |", "|---|---|---|---|"]
    rows += [f"| `{code.code}` | {code.reply_status} | {code.status} | `{code.template}` |" for code in CATALOGUE]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
