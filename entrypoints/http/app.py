"""The Falcon app factory: every dependency comes in through `services`."""

from __future__ import annotations

import falcon

from entrypoints.bootstrap import Services
from entrypoints.http import errors, operations
from entrypoints.http.auth import Authentication, TokenSet
from entrypoints.http.dashboard import dashboard_routes
from entrypoints.http.export_status import (
    EXPORT_PATH,
    EXPORTS_PATH,
    ExportListResource,
    ExportResource,
    IdConverter,
)
from entrypoints.http.metrics import METRICS_PATH, MetricsResource
from entrypoints.http.middleware import RequestContext
from entrypoints.http.openapi import OPENAPI_PATH, OpenApiResource, openapi_document
from entrypoints.http.resources import (
    HEALTH_PATH,
    LIVENESS_PATH,
    READINESS_PATH,
    ExportResponsesResource,
    HealthResource,
    LivenessResource,
    ReadinessResource,
)

EXPORT_RESPONSES_PATH = "/api/v2/exports/export_responses"


def create_app(services: Services) -> falcon.App:
    """The app; unless `settings.api_auth` is off, every route but the public health
    probes and the dashboard's files needs one of `settings.api_tokens`."""
    settings = services.settings
    middleware: list = [RequestContext(services.scrape.metrics.request)]
    if settings.api_auth:
        middleware.append(Authentication(TokenSet(settings.api_tokens)))
    app = falcon.App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.router_options.converters["id"] = IdConverter
    routes = {
        EXPORT_RESPONSES_PATH: ExportResponsesResource(
            services.handle_export_responses,
            max_body_bytes=settings.max_body_bytes,
            max_response_ids=settings.max_response_ids,
            max_errors=settings.max_errors,
        ),
        EXPORTS_PATH: ExportListResource(services.export_reader),
        EXPORT_PATH: ExportResource(services.export_reader),
        HEALTH_PATH: HealthResource(services.health.answers),
        LIVENESS_PATH: LivenessResource(),
        READINESS_PATH: ReadinessResource(services.health.accepts_writes),
        **dashboard_routes(),
        **operations.routes(
            services.operations, services.export_reader, services.system_reader, settings.max_body_bytes
        ),
        METRICS_PATH: MetricsResource(services.scrape),
    }
    public = frozenset(path for path, resource in routes.items() if getattr(resource, "public", False))
    document = openapi_document(settings, command_path=EXPORT_RESPONSES_PATH, public_paths=public)
    routes[OPENAPI_PATH] = OpenApiResource(document)
    for path, resource in routes.items():
        app.add_route(path, resource)
    errors.register(app)
    return app
