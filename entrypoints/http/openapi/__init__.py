"""The OpenAPI 3.1 document of every route, served at GET /api/v2/openapi.json.

It is built from the constants the routes themselves use: paths from the app and the
resources, statuses and codes from the error catalogue (entrypoints/http/error_codes.py),
states from ExportState, limits from Settings. A change to any of them changes the
document with it; the tests check the rest (every route documented, every reply valid
against its schema).

- document.py: the assembly (paths, security, info) and the resource that serves it
- operations.py: one function per route and method
- errors.py: the codes each operation answers with, and their replies
- schemas.py: the components (body schemas, headers, the bearer scheme)
- replies.py: what every reply shares (headers, the 200 shape)
"""

from entrypoints.http.openapi.document import OPENAPI_PATH, OpenApiResource, openapi_document, openapi_path

__all__ = ["OPENAPI_PATH", "OpenApiResource", "openapi_document", "openapi_path"]
