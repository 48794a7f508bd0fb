"""The export worker's own GET /metrics (`worker --metrics-bind HOST:PORT`): its CCD
calls and attempts, which happen in its process, not the API's.

A small threaded WSGI server in the worker's process, guarded by the API's tokens as
the API's /metrics is. A client gets `HANDLER_TIMEOUT_SECONDS` to send its request.
"""

from __future__ import annotations

import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import falcon

from adapters.metrics.families import Scrape
from entrypoints.http import errors
from entrypoints.http.auth import Authentication, TokenSet
from entrypoints.http.metrics import METRICS_PATH, MetricsResource
from entrypoints.http.middleware import RequestContext

HANDLER_TIMEOUT_SECONDS = 10.0


def metrics_app(scrape: Scrape, tokens: tuple[str, ...] | None) -> falcon.App:
    """Only GET /metrics; `tokens` None serves it without authentication (API_AUTH=none)."""
    middleware: list = [RequestContext()]
    if tokens is not None:
        middleware.append(Authentication(TokenSet(tokens)))
    app = falcon.App(middleware=middleware)
    app.add_route(METRICS_PATH, MetricsResource(scrape))
    errors.register(app)
    return app


class _ThreadedServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    timeout = HANDLER_TIMEOUT_SECONDS

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass  # the app logs one structured line per request itself


class MetricsServer:
    """Serves `app` on `host:port` from a daemon thread until `stop`."""

    def __init__(self, host: str, port: int, app: falcon.App):
        self.server = make_server(host, port, app, server_class=_ThreadedServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
