"""GET /metrics: the service's figures in the Prometheus text format, for a token holder.

Not public: the route is guarded like /api/ (auth.py decides on the resource), since
the figures tell who sends what and how CCD answers. Prometheus sends the token with
`authorization: {credentials: <token>}` in its scrape configuration (README).
"""

from __future__ import annotations

import falcon

from adapters.metrics.families import Scrape

METRICS_PATH = "/metrics"


class MetricsResource:
    def __init__(self, scrape: Scrape):
        self.scrape = scrape

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = Scrape.content_type
        resp.data = self.scrape.text()


def route_of(req: falcon.Request) -> str:
    """The route's template, never the path itself: one label value per route, however
    many exports there are or what a client sends."""
    return req.uri_template or "unmatched"
