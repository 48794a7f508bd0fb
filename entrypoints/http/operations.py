"""The operators' routes: retry and cancel exports, pause and resume external systems.

Every reply follows the agreed contract: an export as GET /api/v2/exports/{id} shows it
after the action, a system as GET /api/v2/external_systems lists it, refusals in the
error envelope (404 for what does not exist, 409 for what the state forbids).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import falcon

from application.export_status import ExportReader
from application.operations import (
    Done,
    OperationsDeps,
    Refused,
    cancel_export,
    export_not_found,
    pause_system,
    resume_system,
    retry_export,
    retry_exports,
    system_not_found,
)
from application.system_status import SystemReader
from domain.operations import actor_of
from domain.results import CommandResult
from entrypoints.converter import CONVERTER
from entrypoints.http.parsing import read_json_body
from entrypoints.http.rendering import ACCEPTED, JSON, body_bytes, render
from entrypoints.http.retry_filters import parse_retry_filters
from entrypoints.strict import INT64_MAX, INT64_MIN

EXPORT_RETRY_PATH = "/api/v2/exports/{export_id:id}/retry"
EXPORT_CANCEL_PATH = "/api/v2/exports/{export_id:id}/cancel"
EXPORTS_RETRY_PATH = "/api/v2/exports/retry"
SYSTEMS_PATH = "/api/v2/external_systems"
SYSTEM_PAUSE_PATH = "/api/v2/external_systems/{system_id:id}/pause"
SYSTEM_RESUME_PATH = "/api/v2/external_systems/{system_id:id}/resume"


def actor(req: falcon.Request) -> str:
    """Who is acting: the token's name, "api" for an unnamed token (or with authentication off)."""
    return actor_of(getattr(req.context, "principal", None))


def refuse(resp: falcon.Response, refused: Refused) -> None:
    render(resp, CommandResult.reject(None, None, [refused.error]))


def _reply(resp: falcon.Response, status: int, document: dict) -> None:
    resp.status = status
    resp.content_type = JSON
    resp.data = body_bytes(document)


def _fits(identifier: int) -> bool:
    # An id outside BIGINT cannot exist; asking the database would only make it fail.
    return INT64_MIN <= identifier <= INT64_MAX


Action = Callable[[int, str], Done | Refused]  # (export or system id, who) -> outcome


class ExportActionResource:
    """POST /api/v2/exports/{id}/retry or /cancel: the reply is the export after the action,
    with its events; 202 when a cancel waits for the attempt that holds the export."""

    def __init__(self, action: Action, reader: ExportReader):
        self.action = action
        self.reader = reader

    def on_post(self, req: falcon.Request, resp: falcon.Response, export_id: int) -> None:
        outcome = self.action(export_id, actor(req)) if _fits(export_id) else export_not_found(export_id)
        if isinstance(outcome, Refused):
            refuse(resp, outcome)
            return
        found = self.reader.get(export_id)
        if found is None:  # deleted by the Rails side since: as GET would answer
            refuse(resp, export_not_found(export_id))
            return
        _reply(resp, ACCEPTED if outcome.in_flight else 200, CONVERTER.unstructure(found))


class RetryExportsResource:
    """POST /api/v2/exports/retry with a filter body: every match queued again, in one statement."""

    def __init__(self, operations: OperationsDeps, max_body_bytes: int):
        self.operations = operations
        self.max_body_bytes = max_body_bytes

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = parse_retry_filters(read_json_body(req, self.max_body_bytes))
        outcome = retry_exports(self.operations, filters, actor(req))
        if isinstance(outcome, Refused):
            refuse(resp, outcome)
            return
        _reply(resp, 200, {"retried": outcome.count})


class SystemListResource:
    """GET /api/v2/external_systems"""

    def __init__(self, reader: SystemReader):
        self.reader = reader

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _reply(resp, 200, {"external_systems": [CONVERTER.unstructure(system) for system in self.reader.systems()]})


class SystemActionResource:
    """POST /api/v2/external_systems/{id}/pause or /resume: the reply is the system after it."""

    def __init__(self, action: Action, reader: SystemReader):
        self.action = action
        self.reader = reader

    def on_post(self, req: falcon.Request, resp: falcon.Response, system_id: int) -> None:
        outcome = self.action(system_id, actor(req)) if _fits(system_id) else system_not_found(system_id)
        found = None if isinstance(outcome, Refused) else self.reader.system(system_id)
        if found is None:
            refuse(resp, outcome if isinstance(outcome, Refused) else system_not_found(system_id))
            return
        _reply(resp, 200, CONVERTER.unstructure(found))


def routes(operations: OperationsDeps, exports: ExportReader, systems: SystemReader, max_body_bytes: int) -> dict:
    """The operators' routes and their resources, for create_app to add."""
    return {
        EXPORT_RETRY_PATH: ExportActionResource(partial(retry_export, operations), exports),
        EXPORT_CANCEL_PATH: ExportActionResource(partial(cancel_export, operations), exports),
        EXPORTS_RETRY_PATH: RetryExportsResource(operations, max_body_bytes),
        SYSTEMS_PATH: SystemListResource(systems),
        SYSTEM_PAUSE_PATH: SystemActionResource(partial(pause_system, operations), systems),
        SYSTEM_RESUME_PATH: SystemActionResource(partial(resume_system, operations), systems),
    }
