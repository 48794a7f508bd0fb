"""The operations of the document, one function per route and method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.export_status import DEFAULT_PER_PAGE, MAX_PER_PAGE
from domain.commands import ExportResponses
from domain.exports import ExportState
from entrypoints.config import Settings
from entrypoints.http.dashboard import ASSETS
from entrypoints.http.openapi.errors import COMMAND_CODES, STATUS_DESCRIPTIONS, UNROUTED_CODE, errors
from entrypoints.http.openapi.replies import KEY_ORDER, REF, headers_for, reply
from entrypoints.http.openapi.schemas import UUID, int64
from entrypoints.http.rendering import ACCEPTED
from entrypoints.http.resources import HEALTH_PATH, LIVENESS_PATH, READINESS_PATH


def export_responses(settings: Settings) -> dict[str, Any]:
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
            str(ACCEPTED): reply(
                "Accepted: one export per response is queued, in one transaction.", f"{REF}/schemas/Accepted"
            ),
            **errors(COMMAND_CODES),
        },
    }


def list_exports() -> dict[str, Any]:
    return {
        "operationId": "listExports",
        "summary": "A page of exports, newest first; every given filter must hold",
        "parameters": [
            _query("response_id", int64(), "Exports of this response"),
            _query("external_system_id", int64(), "Exports to this external system"),
            _query(
                "state", {"type": "string", "enum": [state.value for state in ExportState]}, "Exports in this state"
            ),
            _query("command_uuid", {"type": "string", "pattern": UUID}, "Exports the command with this uuid queued"),
            _query(
                "page",
                {**int64(), "minimum": 1, "default": 1},
                "Page number; past the last one, no exports but the total",
            ),
            _query(
                "per_page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
                "Exports per page",
            ),
        ],
        "responses": {
            "200": reply("One page of exports, without their events. " + KEY_ORDER, f"{REF}/schemas/ExportPage"),
            **errors(("invalid_query_parameter", "service_unavailable", "internal_error")),
        },
    }


def get_export() -> dict[str, Any]:
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
            "200": reply("The export. " + KEY_ORDER, f"{REF}/schemas/ExportWithEvents"),
            **errors(("export_not_found", UNROUTED_CODE, "service_unavailable", "internal_error")),
        },
    }


def _health() -> dict[str, Any]:
    return {
        "operationId": "health",
        "summary": "Whether the service and its database answer (a read); needs no credential",
        "responses": {
            "200": reply("The service and its database answer.", f"{REF}/schemas/Healthy"),
            **errors(("internal_error",)),
            "503": reply(STATUS_DESCRIPTIONS[503], f"{REF}/schemas/Unhealthy", headers_for(503)),
        },
    }


def _liveness() -> dict[str, Any]:
    return {
        "operationId": "liveness",
        "summary": "Whether the process is up and serving; asks nothing of the database; needs no credential",
        "responses": {
            "200": reply("The process serves requests.", f"{REF}/schemas/Alive"),
            **errors(("internal_error",)),
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
            "200": reply("The database takes writes: commands can be accepted.", f"{REF}/schemas/Healthy"),
            **errors(("internal_error",)),
            "503": reply(
                "The database does not take writes: unreachable, read-only, full, or its lock not had in time.",
                f"{REF}/schemas/Unhealthy",
                headers_for(503),
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
                        **headers_for(200),
                        "Content-Security-Policy": {"$ref": f"{REF}/headers/Content-Security-Policy"},
                    },
                    "content": {content_type.partition(";")[0]: {"schema": {"type": "string"}}},
                },
                **errors(("internal_error",)),
            },
        }

    return operation


HEALTH_OPERATIONS = {HEALTH_PATH: _health, LIVENESS_PATH: _liveness, READINESS_PATH: _readiness}
# Every route open without a credential: the health probes and the dashboard's files.
PUBLIC_OPERATIONS = {**HEALTH_OPERATIONS, **{path: _dashboard_asset(path) for path in ASSETS}}


def document() -> dict[str, Any]:
    return {
        "operationId": "openapiDocument",
        "summary": "This document",
        "responses": {
            "200": reply("The OpenAPI 3.1 document of every route.", f"{REF}/schemas/OpenApiDocument"),
            **errors(("internal_error",)),
        },
    }


def metrics() -> dict[str, Any]:
    return {
        "operationId": "metrics",
        "summary": "The service's figures for Prometheus (README, Metrics)",
        "responses": {
            "200": {
                "description": "The Prometheus text exposition format, version 0.0.4.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
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
