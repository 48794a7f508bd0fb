"""The Falcon app factory: every dependency comes in through `services`."""

from __future__ import annotations

import falcon

from entrypoints.bootstrap import Services
from entrypoints.http import errors
from entrypoints.http.auth import Authentication, TokenSet
from entrypoints.http.export_status import (
    EXPORT_PATH,
    EXPORTS_PATH,
    ExportListResource,
    ExportResource,
    IdConverter,
)
from entrypoints.http.middleware import RequestContext
from entrypoints.http.openapi import OPENAPI_PATH, OpenApiResource, openapi_document
from entrypoints.http.resources import ExportResponsesResource, HealthResource

EXPORT_RESPONSES_PATH = "/api/v2/exports/export_responses"
HEALTH_PATH = "/health"


def create_app(services: Services) -> falcon.App:
    """The app; unless `settings.api_auth` is off, /api/ routes need one of `settings.api_tokens`."""
    middleware: list = [RequestContext()]
    if services.settings.api_auth:
        middleware.append(Authentication(TokenSet(services.settings.api_tokens)))
    app = falcon.App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.router_options.converters["id"] = IdConverter
    app.add_route(EXPORT_RESPONSES_PATH, ExportResponsesResource(services))
    app.add_route(EXPORTS_PATH, ExportListResource(services.export_reader))
    app.add_route(EXPORT_PATH, ExportResource(services.export_reader))
    app.add_route(HEALTH_PATH, HealthResource(services))
    document = openapi_document(services.settings, command_path=EXPORT_RESPONSES_PATH, health_path=HEALTH_PATH)
    app.add_route(OPENAPI_PATH, OpenApiResource(document))
    errors.register(app)
    return app
