"""The ceiling: a bare Falcon app answering a constant JSON body, under the service's gunicorn settings."""

from __future__ import annotations

import sys

import falcon

from entrypoints.http.server import GunicornServer, gunicorn_options

BODY = b'{"status":"accepted","meta":{},"uuid":"fea4decf-2efe-4cd6-96b3-f0a4bbeeca78"}'


class Constant:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/json; charset=utf-8"
        resp.data = BODY

    on_post = on_get


def make_app() -> falcon.App:
    app = falcon.App()
    app.add_sink(Constant().on_get, "/")
    return app


if __name__ == "__main__":
    # The defaults of `serve`: the same workers and threads as the service.
    GunicornServer(make_app, gunicorn_options(sys.argv[1])).run()
