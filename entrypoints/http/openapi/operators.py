"""The operators' routes (entrypoints/http/operations.py) in the document: their operations and schemas."""

from __future__ import annotations

from typing import Any

from application.system_status import COUNTED_STATES
from domain.operations import CONFLICT, RETRYABLE_STATES
from entrypoints.http import operations as routes
from entrypoints.http.error_codes import CATALOGUE
from entrypoints.http.openapi.errors import UNROUTED_CODE, _error_reply, errors
from entrypoints.http.openapi.replies import REF, reply
from entrypoints.http.openapi.schemas import UUID, _closed, _nullable, int64, timestamp

ET_API = (
    "Exports of the ET API (queued by the Rails side, not by this service) are shown but never changed: "
    "any action on one is a 409 export_owned_by_et_api."
)
ACTOR = (
    "The action is recorded as an export event whose data.export_responses says which action and who did it "
    '(the API token\'s name, "api" for an unnamed token).'
)
BODY_CODES = (
    "invalid_json",
    "invalid_body",
    "invalid_type",
    "invalid_state",
    "invalid_uuid",
    "integer_out_of_range",
    "unknown_field",
    "unreadable_body",
    "incomplete_body",
    "bad_request",
    "payload_too_large",
    "unsupported_media_type",
)
READ_CODES = ("service_unavailable", "internal_error")


def paths(max_body_bytes: int) -> dict[str, dict[str, Any]]:
    """The path items of the operators' routes, by their Falcon templates, for openapi_document."""
    return {
        routes.EXPORT_RETRY_PATH: {"post": _retry_export()},
        routes.EXPORT_CANCEL_PATH: {"post": _cancel_export()},
        routes.EXPORTS_RETRY_PATH: {"post": _retry_exports(max_body_bytes)},
        routes.SYSTEMS_PATH: {"get": _list_systems()},
        routes.SYSTEM_PAUSE_PATH: {"post": _system_action("pause")},
        routes.SYSTEM_RESUME_PATH: {"post": _system_action("resume")},
    }


def _conflict(codes: list[str], description: str) -> dict[str, Any]:
    refusal = _error_reply(CONFLICT, codes)
    return {**refusal, "description": f"{description} Nothing was written. Codes: {', '.join(codes)}."}


def _not_found(code: str, what: str) -> dict[str, Any]:
    refusal = _error_reply(CATALOGUE.reply_status(code), [code, UNROUTED_CODE])
    description = f"There is no {what} with this id ({code}), or the id is no integer ({UNROUTED_CODE})."
    return {**refusal, "description": description}


def _id_parameter(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int64"},
        "description": f"The {what}'s id; a path segment that is no integer is an unrouted path",
    }


def _retry_export() -> dict[str, Any]:
    return {
        "operationId": "retryExport",
        "summary": "Queue a failed or erroring export again, due now, with a fresh retry schedule",
        "description": f"{ACTOR} {ET_API} Of two operators retrying one export at once, one wins, the other gets a 409.",
        "parameters": [_id_parameter("export_id", "export")],
        "responses": {
            "200": reply("The export as GET /api/v2/exports/{id} shows it now.", f"{REF}/schemas/ExportWithEvents"),
            "404": _not_found("export_not_found", "export"),
            "409": _conflict(
                ["export_owned_by_et_api", "export_not_retryable", "export_already_pending", "export_changed"],
                "The export is the ET API's, is not failed or erroring, or another export of its response to "
                "its system is pending.",
            ),
            **errors(READ_CODES),
        },
    }


def _cancel_export() -> dict[str, Any]:
    return {
        "operationId": "cancelExport",
        "summary": 'Cancel an export: a queued or erroring one fails now ("Cancelled by an operator")',
        "description": (
            "An export in progress is marked and fails when its current attempt ends: the reply is then a 202 "
            f"with the export still in_progress. Cancelling it again answers the same. {ACTOR} {ET_API}"
        ),
        "parameters": [_id_parameter("export_id", "export")],
        "responses": {
            "200": reply("The export, now failed, as GET shows it.", f"{REF}/schemas/ExportWithEvents"),
            "202": reply(
                "The export is in progress: it fails when its attempt ends. As GET shows it now.",
                f"{REF}/schemas/ExportWithEvents",
            ),
            "404": _not_found("export_not_found", "export"),
            "409": _conflict(
                ["export_owned_by_et_api", "export_not_cancellable", "export_changed"],
                "The export is the ET API's, or it is final (complete or failed) already.",
            ),
            **errors(READ_CODES),
        },
    }


def _retry_exports(max_body_bytes: int) -> dict[str, Any]:
    return {
        "operationId": "retryExports",
        "summary": "Queue again every failed or erroring export of this service that the filters match",
        "description": (
            "One statement queues them all, due now, with fresh retry schedules; each gets an event saying who "
            "retried it. Of several failed exports of one response to one system, the newest is retried; one "
            f"whose response has another export to its system pending is not. The body may be at most "
            f"{max_body_bytes} bytes; {{}} matches every failed and erroring export."
        ),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"{REF}/schemas/RetryFilters"},
                    "example": {"external_system_id": 43, "state": "failed"},
                }
            },
        },
        "responses": {
            "200": reply("How many exports were queued again.", f"{REF}/schemas/Retried"),
            "409": _conflict(["export_changed"], "The matching exports kept changing; try again."),
            **errors((*BODY_CODES, *READ_CODES)),
        },
    }


def _list_systems() -> dict[str, Any]:
    return {
        "operationId": "listExternalSystems",
        "summary": "Every external system, by id, with its pause, its circuit breaker and its exports by state",
        "responses": {
            "200": reply("The external systems.", f"{REF}/schemas/ExternalSystemList"),
            **errors(READ_CODES),
        },
    }


def _system_action(action: str) -> dict[str, Any]:
    summaries = {
        "pause": (
            "Pause an external system: its exports are still accepted and queued, but not attempted (nor charged "
            "an attempt). Pausing a paused system keeps who paused it, and when."
        ),
        "resume": "Resume an external system: its queued and erroring exports are due at once.",
    }
    return {
        "operationId": f"{action}ExternalSystem",
        "summary": summaries[action],
        "parameters": [_id_parameter("system_id", "external system")],
        "responses": {
            "200": reply(
                "The external system as GET /api/v2/external_systems lists it.", f"{REF}/schemas/ExternalSystem"
            ),
            "404": _not_found("system_not_found", "external system"),
            **errors(READ_CODES),
        },
    }


def schemas() -> dict[str, Any]:
    """The schemas the operators' routes refer to, for the document's components."""
    counts = {state.value: {"type": "integer", "minimum": 0} for state in COUNTED_STATES}
    return {
        "RetryFilters": {
            "type": "object",
            "additionalProperties": False,
            "description": "Every given filter must hold; none given matches every failed and erroring export",
            "properties": {
                "external_system_id": int64(),
                "state": {"type": "string", "enum": sorted(state.value for state in RETRYABLE_STATES)},
                "command_uuid": {"type": "string", "pattern": UUID},
            },
        },
        "Retried": _closed({"retried": {"type": "integer", "minimum": 0}}),
        "ExternalSystemList": _closed(
            {"external_systems": {"type": "array", "items": {"$ref": f"{REF}/schemas/ExternalSystem"}}}
        ),
        "ExternalSystem": _closed(
            {
                "id": int64(),
                "name": {"type": "string"},
                "reference": {"type": "string"},
                "paused": {"type": "boolean"},
                "paused_at": _nullable(timestamp()),
                "paused_by": {"type": ["string", "null"]},
                "circuit": _closed(
                    {
                        "state": {"type": "string", "enum": ["closed", "open", "half_open"]},
                        "consecutive_failures": {"type": "integer", "minimum": 0},
                        "opened_at": _nullable(timestamp()),
                        "next_probe_at": _nullable(timestamp()),
                        "last_failure": {"type": ["string", "null"]},
                    },
                    "The circuit breaker the workers share: open stops attempts until a probe succeeds",
                ),
                "throttle": _closed(
                    {
                        "paused_until": _nullable(timestamp()),
                        "calls_per_second": {"type": ["number", "null"], "exclusiveMinimum": 0},
                        "rate_limited_at": _nullable(timestamp()),
                    },
                    "The throttle the workers share after CCD's 429s: no call before paused_until (its "
                    "Retry-After); then calls_per_second, set at rate_limited_at and growing by one a second "
                    "every second until the next 429 (dropped ten minutes after the last)",
                ),
                "exports": _closed(counts, "This system's exports by state (the ET API's too)"),
            }
        ),
    }
