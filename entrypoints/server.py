"""gunicorn running the Falcon app, configured from code."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from entrypoints.bootstrap import bootstrap
from entrypoints.config import Settings
from entrypoints.http.app import create_app

# Deliberate limits (documented in the README): a request that takes longer than
# TIMEOUT seconds kills its worker; header limits are gunicorn's defaults, the body
# limit is the app's own (MAX_BODY_BYTES, 1 MiB).
TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 30
KEEPALIVE_SECONDS = 5


class Server(BaseApplication):
    def __init__(self, settings: Settings, bind: str, workers: int, threads: int = 4):
        self.settings = settings
        self.options = {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": TIMEOUT_SECONDS,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "keepalive": KEEPALIVE_SECONDS,
            "accesslog": None,  # the app logs one structured line per request itself
            "errorlog": "-",
            "loglevel": "info",
            # gunicorn's control socket sits at one path per user: several servers
            # (tests, benchmarks) would share it. Nothing here uses it.
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Runs in each worker after the fork: each gets its own engine and pool.
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        return create_app(bootstrap(self.settings))
