"""The OpenAPI 3.1 document of every route, served at GET /api/v2/openapi.json.

It is built from the constants the routes themselves use: paths from the app and the
resources, statuses from rendering.HTTP_STATUS, states from ExportState, limits from
Settings. A change to any of them changes the document with it; the tests check the
rest (every route documented, every reply valid against its schema).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import falcon

from domain.commands import ExportResponses
from domain.exports import ExportState
from entrypoints.config import Settings
from entrypoints.http import errors
from entrypoints.http.auth import REALM
from entrypoints.http.dashboard import ASSETS, CONTENT_SECURITY_POLICY
from entrypoints.http.export_status import DEFAULT_PER_PAGE, EXPORT_PATH, EXPORTS_PATH, MAX_PER_PAGE
from entrypoints.http.middleware import SECURITY_HEADERS
from entrypoints.http.parsing import FIELD_STATUS
from entrypoints.http.rendering import ACCEPTED, HTTP_STATUS, JSON, body_bytes
from entrypoints.http.resources import HEALTH_PATH, LIVENESS_PATH, READINESS_PATH
from entrypoints.strict import INT64_MAX, INT64_MIN

OPENAPI_PATH = "/api/v2/openapi.json"
BEARER = "bearer"
REF = "#/components"
# JSON Schema patterns are ECMA-262: `$` is the end of the text, never before a newline.
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
LOWER_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"

# The codes each operation can answer with; their statuses come from HTTP_STATUS.
AUTH_CODES = ("missing_credentials", "invalid_credentials")
RULE_CODES = (
    "external_system_not_found",
    "external_system_not_exporting_responses",
    "response_not_found",
    "too_many_response_ids",
)
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
    "too_many_errors",
    "bad_request",
)
COMMAND_CODES = (
    *RULE_CODES,
    *SHAPE_CODES,
    "uuid_conflict",
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

KEY_ORDER = (
    "Keys come in the order the schema lists them, and clients may rely on it: the body is "
    "written byte for byte as the original ET API wrote it."
)
ENVELOPE = (
    "The error envelope: every error listed at once, each with exactly the seven keys status, code, "
    "title, detail, source, command, uuid, in that order; title equals detail; source is a JSON pointer "
    "(/response_ids/2 points into data; /uuid, /command, /data and / into the body). "
)
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


class OpenApiResource:
    """Serves the document, built once: the settings it depends on do not change while serving."""

    def __init__(self, document: dict[str, Any]):
        self.data = body_bytes(document)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = JSON
        resp.data = self.data


def openapi_path(template: str) -> str:
    """A Falcon URI template as an OpenAPI path: `{export_id:int}` becomes `{export_id}`."""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", template)


def openapi_document(
    settings: Settings,
    *,
    command_path: str,
    public_paths: frozenset[str],
    more_paths: dict[str, dict[str, Any]] | None = None,
    more_schemas: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app that `settings` configure; `public_paths`
    are the routes open without a credential (their resources say `public`); `more_paths`
    and `more_schemas` describe routes declared in their own modules (the operators')."""
    operations = {
        **(more_paths or {}),
        openapi_path(command_path): {"post": _export_responses(settings)},
        openapi_path(EXPORTS_PATH): {"get": _list_exports()},
        openapi_path(EXPORT_PATH): {"get": _get_export()},
        **{path: {"get": PUBLIC_OPERATIONS[path]()} for path in sorted(public_paths)},
        OPENAPI_PATH: {"get": _document()},
    }
    paths = {}
    for path, item in operations.items():
        authenticated = settings.api_auth and path not in public_paths
        for operation in item.values():
            operation["security"] = [{BEARER: []}] if authenticated else []
            if authenticated:
                operation["responses"].update(_errors(AUTH_CODES))
            operation["responses"].update(_errors(SERVER_CODES))
            operation["responses"] = dict(sorted(operation["responses"].items()))
        paths[path] = {**item, "x-method-not-allowed": {"$ref": f"{REF}/responses/MethodNotAllowed"}}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": _info(settings),
        "paths": paths,
        "components": _components(settings, more_schemas or {}),
    }


def _info(settings: Settings) -> dict[str, Any]:
    description = (
        "Export ET3 responses to an external case system such as CCD, and read where each export stands. "
        f"Every reply is JSON (Content-Type {JSON}) and carries X-Request-Id, X-Runtime and the security "
        "headers of the original ET API. Every refusal is the error envelope, whatever the route: an "
        f"unrouted path is a 404 `{UNROUTED_CODE}` (components/responses/NotFound); a method a path does "
        f"not take is a 405 `{UNSUPPORTED_METHOD_CODE}` with Allow (the x-method-not-allowed of each "
        "path). OPTIONS on a path answers 200 with Allow and no body, as Falcon does (with a credential, on "
        "a guarded path). The server refuses what it cannot read before any route sees it, in the same "
        "envelope (documented on every operation): headers or a body that do not arrive within their "
        "deadlines are a 408, a request line over its limit a 414, headers over theirs a 431, a malformed "
        "request a 400 bad_request."
    )
    if not settings.api_auth:
        description += " This server runs without authentication (API_AUTH=none)."
    return {"title": "Export Responses", "version": "2", "description": description}


# ---- operations -----------------------------------------------------------------------------


def _export_responses(settings: Settings) -> dict[str, Any]:
    return {
        "operationId": "exportResponses",
        "summary": "Queue one export per response to an external system",
        "description": (
            "Accepted commands are logged under their uuid (case-insensitive, echoed in lower case): "
            "sending the same command again replays the first reply, status and bytes, and writes nothing. "
            "Duplicate ids are exported once; a response already on its way to the system gets no second "
            f"export. The body may be at most {settings.max_body_bytes} bytes. " + KEY_ORDER
        ),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"{REF}/schemas/ExportResponsesCommand"},
                    "example": {
                        "uuid": "fea4decf-2efe-4cd6-96b3-f0a4bbeeca78",
                        "command": ExportResponses.NAME,
                        "data": {"external_system_id": 43, "response_ids": [18]},
                        "async": False,
                    },
                }
            },
        },
        "responses": {
            str(ACCEPTED): _reply(
                "Accepted: one export per response is queued, in one transaction.", f"{REF}/schemas/Accepted"
            ),
            **_errors(COMMAND_CODES),
        },
    }


def _list_exports() -> dict[str, Any]:
    return {
        "operationId": "listExports",
        "summary": "A page of exports, newest first; every given filter must hold",
        "parameters": [
            _query("response_id", _int64(), "Exports of this response"),
            _query("external_system_id", _int64(), "Exports to this external system"),
            _query(
                "state", {"type": "string", "enum": [state.value for state in ExportState]}, "Exports in this state"
            ),
            _query("command_uuid", {"type": "string", "pattern": UUID}, "Exports the command with this uuid queued"),
            _query(
                "page",
                {**_int64(), "minimum": 1, "default": 1},
                "Page number; past the last one, no exports but the total",
            ),
            _query(
                "per_page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
                "Exports per page",
            ),
        ],
        "responses": {
            "200": _reply("One page of exports, without their events. " + KEY_ORDER, f"{REF}/schemas/ExportPage"),
            **_errors(("invalid_query_parameter", "service_unavailable", "internal_error")),
        },
    }


def _get_export() -> dict[str, Any]:
    return {
        "operationId": "getExport",
        "summary": "One export, with its events in the order they were recorded",
        "parameters": [
            {
                "name": "export_id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "format": "int64"},
                "description": "The export's id; a path segment that is no integer is an unrouted path",
            }
        ],
        "responses": {
            "200": _reply("The export. " + KEY_ORDER, f"{REF}/schemas/ExportWithEvents"),
            **_errors(("export_not_found", UNROUTED_CODE, "service_unavailable", "internal_error")),
        },
    }


def _health() -> dict[str, Any]:
    return {
        "operationId": "health",
        "summary": "Whether the service and its database answer (a read); needs no credential",
        "responses": {
            "200": _reply("The service and its database answer.", f"{REF}/schemas/Healthy"),
            **_errors(("internal_error",)),
            "503": _reply(STATUS_DESCRIPTIONS[503], f"{REF}/schemas/Unhealthy", _headers_for(503)),
        },
    }


def _liveness() -> dict[str, Any]:
    return {
        "operationId": "liveness",
        "summary": "Whether the process is up and serving; asks nothing of the database; needs no credential",
        "responses": {
            "200": _reply("The process serves requests.", f"{REF}/schemas/Alive"),
            **_errors(("internal_error",)),
        },
    }


def _readiness() -> dict[str, Any]:
    return {
        "operationId": "readiness",
        "summary": (
            "Whether the database answers and takes a durable write now (the answer is kept for a second); "
            "needs no credential"
        ),
        "responses": {
            "200": _reply("The database takes writes: commands can be accepted.", f"{REF}/schemas/Healthy"),
            **_errors(("internal_error",)),
            "503": _reply(
                "The database does not take writes: unreachable, read-only, full, or its lock not had in time.",
                f"{REF}/schemas/Unhealthy",
                _headers_for(503),
            ),
        },
    }


def _dashboard_asset(path: str) -> Callable[[], dict[str, Any]]:
    name, content_type = ASSETS[path]

    def operation() -> dict[str, Any]:
        return {
            "operationId": "dashboard" + name.rpartition(".")[2].capitalize(),
            "summary": (
                f"The operators' dashboard: its file {name}. It holds no data and needs no credential; "
                "the page asks for a bearer token and calls the API with it"
            ),
            "responses": {
                "200": {
                    "description": f"The file {name}, under a strict Content-Security-Policy.",
                    "headers": {
                        **_headers_for(200),
                        "Content-Security-Policy": {"$ref": f"{REF}/headers/Content-Security-Policy"},
                    },
                    "content": {content_type.partition(";")[0]: {"schema": {"type": "string"}}},
                },
                **_errors(("internal_error",)),
            },
        }

    return operation


HEALTH_OPERATIONS = {HEALTH_PATH: _health, LIVENESS_PATH: _liveness, READINESS_PATH: _readiness}
PUBLIC_OPERATIONS = {**HEALTH_OPERATIONS, **{path: _dashboard_asset(path) for path in ASSETS}}


def _document() -> dict[str, Any]:
    return {
        "operationId": "openapiDocument",
        "summary": "This document",
        "responses": {
            "200": _reply("The OpenAPI 3.1 document of every route.", f"{REF}/schemas/OpenApiDocument"),
            **_errors(("internal_error",)),
        },
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description + ". Given at most once; a bad value is a 400 invalid_query_parameter",
    }


# ---- replies --------------------------------------------------------------------------------


def _reply(description: str, schema_ref: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "headers": headers or _headers_for(200),
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


def _errors(codes: tuple[str, ...]) -> dict[str, Any]:
    """One reply per status that `codes` give: the envelope, its codes limited to those."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(HTTP_STATUS[code], []).append(code)
    return {str(status): _error_reply(status, found) for status, found in sorted(by_status.items())}


def _error_reply(status: int, codes: list[str]) -> dict[str, Any]:
    inner = [status, FIELD_STATUS] if status == 400 else [status]
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
        "headers": _headers_for(status),
        "content": {"application/json": {"schema": {"allOf": [{"$ref": f"{REF}/schemas/NotAccepted"}, restriction]}}},
    }


def _headers_for(status: int) -> dict[str, Any]:
    extra = {401: "WWW-Authenticate", 405: "Allow", 503: "Retry-After"}.get(status)
    names = [*SECURITY_HEADERS, "X-Request-Id", "X-Runtime", *([extra] if extra else [])]
    return {name: {"$ref": f"{REF}/headers/{name}"} for name in names}


# ---- components -----------------------------------------------------------------------------


def _components(settings: Settings, more_schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": {**_schemas(settings), **more_schemas},
        "responses": {
            "NotFound": _errors((UNROUTED_CODE,))["404"],
            "MethodNotAllowed": _errors((UNSUPPORTED_METHOD_CODE,))["405"],
        },
        "headers": _header_components(),
        "securitySchemes": {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "One of the tokens in API_TOKENS. Every /api/ route needs it; GET /health does not.",
            }
        },
    }


def _int64() -> dict[str, Any]:
    return {"type": "integer", "format": "int64", "minimum": INT64_MIN, "maximum": INT64_MAX}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _closed(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema = {"type": "object", "required": list(properties), "properties": properties, "additionalProperties": False}
    return {"description": description, **schema} if description else schema


def _schemas(settings: Settings) -> dict[str, Any]:
    return {
        "ExportResponsesCommand": _command(settings),
        "Accepted": _closed(
            {
                "status": {"const": "accepted"},
                "meta": {"type": "object", "maxProperties": 0},
                "uuid": {"type": "string", "pattern": LOWER_UUID},
            },
            'Byte for byte: {"status":"accepted","meta":{},"uuid":"<the command\'s uuid, lower case>"}.',
        ),
        "NotAccepted": _closed(
            {
                "status": {"const": "not_accepted"},
                "uuid": {
                    "type": ["string", "null"],
                    "pattern": LOWER_UUID,
                    "description": "The command's uuid once it is valid, else null (always null outside the command)",
                },
                "errors": {"type": "array", "minItems": 1, "items": {"$ref": f"{REF}/schemas/Error"}},
            },
            ENVELOPE + KEY_ORDER,
        ),
        "Error": _closed(
            {
                "status": {
                    "type": "integer",
                    "description": "422 for rule and field errors inside a 400 reply, else the reply's status",
                },
                "code": {"type": "string", "enum": sorted(HTTP_STATUS), "description": "Stable: clients switch on it"},
                "title": {"type": "string", "minLength": 1},
                "detail": {"type": "string", "minLength": 1, "description": "Equals title"},
                "source": {"type": "string", "pattern": "^/"},
                "command": {
                    "type": ["string", "null"],
                    "description": "The command named in the body, if it named one as a string",
                },
                "uuid": {"type": ["string", "null"], "pattern": LOWER_UUID},
            }
        ),
        "Export": _export(with_events=False),
        "ExportWithEvents": _export(with_events=True),
        "ExportEvent": _closed(
            {
                "uuid": {"type": "string", "pattern": LOWER_UUID},
                "state": {"$ref": f"{REF}/schemas/ExportState"},
                "percent_complete": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
                "message": {"type": ["string", "null"]},
                "data": {"type": "object"},
                "created_at": _timestamp(),
            }
        ),
        "ExportState": {
            "type": "string",
            "enum": [state.value for state in ExportState],
            "description": "complete and failed are final",
        },
        "ExportPage": _closed(
            {
                "exports": {"type": "array", "maxItems": MAX_PER_PAGE, "items": {"$ref": f"{REF}/schemas/Export"}},
                "meta": _closed(
                    {
                        "page": {**_int64(), "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                        "total": {"type": "integer", "minimum": 0, "description": "Every export the filters match"},
                    }
                ),
            }
        ),
        "Healthy": _closed({"status": {"const": "ok"}, "database": {"const": "ok"}}),
        "Alive": _closed({"status": {"const": "ok"}}),
        "Unhealthy": _closed(
            {
                "status": {"const": "unavailable"},
                "database": {"const": "unavailable"},
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "allOf": [
                            {"$ref": f"{REF}/schemas/Error"},
                            {"properties": {"status": {"const": 503}, "code": {"const": "service_unavailable"}}},
                        ]
                    },
                },
            }
        ),
        "OpenApiDocument": {
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {"openapi": {"type": "string", "pattern": r"^3\.1\."}},
        },
    }


def _command(settings: Settings) -> dict[str, Any]:
    return {
        "type": "object",
        "description": (
            'An ExportResponses command. Other top-level keys (the admin client\'s "async": false) are '
            'accepted and ignored. Integers are JSON integers: 5, never 5.0 or "5".'
        ),
        "required": ["uuid", "command", "data"],
        "properties": {
            "uuid": {"type": "string", "pattern": UUID, "description": "Made by the client; case-insensitive"},
            "command": {"type": "string", "enum": [ExportResponses.NAME]},
            "data": {
                "type": "object",
                "required": ["external_system_id", "response_ids"],
                "properties": {
                    "external_system_id": _int64(),
                    "response_ids": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": settings.max_response_ids,
                        "items": _int64(),
                    },
                },
            },
        },
    }


def _literal(text: str) -> str:
    """`text` as a regular expression that matches it alone (in ECMA-262 and Python alike)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", text)


def _timestamp() -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "pattern": TIMESTAMP, "description": "UTC, with microseconds"}


def _export(with_events: bool) -> dict[str, Any]:
    properties = {
        "id": _int64(),
        "state": {"$ref": f"{REF}/schemas/ExportState"},
        "percent_complete": {"type": "integer", "minimum": 0, "maximum": 100},
        "message": {"type": ["string", "null"]},
        "external_data": {"type": "object", "description": "What the export learnt: the case in CCD, or the error"},
        "resource_type": {"type": "string", "description": "Response"},
        "response_id": _int64(),
        "external_system_id": _int64(),
        "command_uuid": {"type": ["string", "null"], "pattern": LOWER_UUID},
        "attempts": {"type": "integer", "minimum": 0},
        "next_attempt_at": _nullable(_timestamp()),
        "created_at": _timestamp(),
        "updated_at": _timestamp(),
    }
    if with_events:
        properties["events"] = {"type": "array", "items": {"$ref": f"{REF}/schemas/ExportEvent"}}
    return _closed(properties)


def _header_components() -> dict[str, Any]:
    headers = {
        name: {
            "required": True,
            "description": "Sent on every reply, as the original ET API did",
            "schema": {"type": "string", "const": value},
        }
        for name, value in SECURITY_HEADERS.items()
    }
    return {
        **headers,
        "X-Request-Id": {
            "required": True,
            "description": "A fresh UUID per request; errors 500 quote it",
            "schema": {"type": "string", "pattern": LOWER_UUID},
        },
        "X-Runtime": {
            "required": True,
            "description": "Seconds the server spent on the request",
            "schema": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{6}$"},
        },
        "WWW-Authenticate": {
            "required": True,
            "description": 'The bearer challenge; error="invalid_token" when one was sent',
            "schema": {"type": "string", "pattern": f'^{_literal(REALM)}(, error="invalid_token")?$'},
        },
        "Content-Security-Policy": {
            "required": True,
            "description": "The dashboard's files run only their own script and style and talk only to this origin",
            "schema": {"type": "string", "const": CONTENT_SECURITY_POLICY},
        },
        "Retry-After": {
            "required": True,
            "description": "Seconds to wait before trying again",
            "schema": {"type": "string", "const": str(errors.RETRY_AFTER_SECONDS)},
        },
        "Allow": {
            "required": True,
            "description": "The methods the path takes",
            "schema": {"type": "string", "pattern": "^[A-Z]+(, [A-Z]+)*$"},
        },
    }
