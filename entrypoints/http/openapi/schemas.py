"""The components of the document: the schemas of every body, the headers, the bearer scheme."""

from __future__ import annotations

from typing import Any

from application.export_status import MAX_PER_PAGE
from domain.commands import ExportResponses
from domain.exports import ExportState
from entrypoints.config import Settings
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.openapi.errors import UNROUTED_CODE, UNSUPPORTED_METHOD_CODE, errors
from entrypoints.http.openapi.replies import KEY_ORDER, LOWER_UUID, REF, header_components
from entrypoints.strict import INT64_MAX, INT64_MIN

BEARER = "bearer"
# JSON Schema patterns are ECMA-262: `$` is the end of the text, never before a newline.
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"
ENVELOPE = (
    "The error envelope: every error listed at once, each with exactly the seven keys status, code, "
    "title, detail, source, command, uuid, in that order; title equals detail; source is a JSON pointer "
    "(/response_ids/2 points into data; /uuid, /command, /data and / into the body). "
)


def components(settings: Settings) -> dict[str, Any]:
    return {
        "schemas": _schemas(settings),
        "responses": {
            "NotFound": errors((UNROUTED_CODE,))["404"],
            "MethodNotAllowed": errors((UNSUPPORTED_METHOD_CODE,))["405"],
        },
        "headers": header_components(),
        "securitySchemes": {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "One of the tokens in API_TOKENS. Every /api/ route needs it; GET /health does not.",
            }
        },
    }


def int64() -> dict[str, Any]:
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
                "code": {
                    "type": "string",
                    "enum": sorted(code.code for code in CATALOGUE),
                    "description": "Stable: clients switch on it",
                },
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
                # Null in some of the Rails side's rows: both columns are nullable there.
                "uuid": {"type": ["string", "null"], "pattern": LOWER_UUID},
                "state": {"anyOf": [{"$ref": f"{REF}/schemas/ExportState"}, {"type": "null"}]},
                "percent_complete": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
                "message": {"type": ["string", "null"]},
                "data": {"type": "object"},
                "created_at": timestamp(),
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
                        "page": {**int64(), "minimum": 1},
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
                    "external_system_id": int64(),
                    "response_ids": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": settings.max_response_ids,
                        "items": int64(),
                    },
                },
            },
        },
    }


def timestamp() -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "pattern": TIMESTAMP, "description": "UTC, with microseconds"}


def _export(with_events: bool) -> dict[str, Any]:
    properties = {
        "id": int64(),
        "state": {"$ref": f"{REF}/schemas/ExportState"},
        "percent_complete": {"type": "integer", "minimum": 0, "maximum": 100},
        "message": {"type": ["string", "null"]},
        "external_data": {"type": "object", "description": "What the export learnt: the case in CCD, or the error"},
        "resource_type": {"type": "string", "description": "Response"},
        "response_id": int64(),
        "external_system_id": int64(),
        "command_uuid": {"type": ["string", "null"], "pattern": LOWER_UUID},
        "attempts": {"type": "integer", "minimum": 0},
        "next_attempt_at": _nullable(timestamp()),
        "created_at": timestamp(),
        "updated_at": timestamp(),
    }
    if with_events:
        properties["events"] = {"type": "array", "items": {"$ref": f"{REF}/schemas/ExportEvent"}}
    return _closed(properties)
