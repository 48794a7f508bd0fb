"""The OpenAPI 3.1 document of every route, served at GET /api/v2/openapi.json: its assembly."""

from __future__ import annotations

import re
from typing import Any

import falcon

from entrypoints.config import Settings
from entrypoints.http.export_status import EXPORT_PATH, EXPORTS_PATH
from entrypoints.http.metrics import METRICS_PATH
from entrypoints.http.openapi import operations, operators
from entrypoints.http.openapi.errors import AUTH_CODES, SERVER_CODES, UNROUTED_CODE, UNSUPPORTED_METHOD_CODE, errors
from entrypoints.http.openapi.replies import REF
from entrypoints.http.openapi.schemas import BEARER, components
from entrypoints.http.rendering import JSON, body_bytes

OPENAPI_PATH = "/api/v2/openapi.json"


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


def openapi_document(settings: Settings, *, command_path: str, public_paths: frozenset[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app that `settings` configure; `public_paths`
    are the routes open without a credential (their resources say `public`)."""
    by_path = {
        openapi_path(command_path): {"post": operations.export_responses(settings)},
        openapi_path(EXPORTS_PATH): {"get": operations.list_exports()},
        openapi_path(EXPORT_PATH): {"get": operations.get_export()},
        **{openapi_path(path): item for path, item in operators.paths(settings.max_body_bytes).items()},
        **{path: {"get": operations.PUBLIC_OPERATIONS[path]()} for path in sorted(public_paths)},
        OPENAPI_PATH: {"get": operations.document()},
        METRICS_PATH: {"get": operations.metrics()},
    }
    paths = {}
    for path, item in by_path.items():
        authenticated = settings.api_auth and path not in public_paths
        for operation in item.values():
            operation["security"] = [{BEARER: []}] if authenticated else []
            if authenticated:
                operation["responses"].update(errors(AUTH_CODES))
            operation["responses"].update(errors(SERVER_CODES))
            operation["responses"] = dict(sorted(operation["responses"].items()))
        paths[path] = {**item, "x-method-not-allowed": {"$ref": f"{REF}/responses/MethodNotAllowed"}}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": _info(settings),
        "paths": paths,
        "components": _with_schemas(components(settings), operators.schemas()),
    }


def _with_schemas(document_components: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {**document_components, "schemas": {**document_components["schemas"], **schemas}}


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
