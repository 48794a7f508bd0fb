"""gunicorn running a Falcon app, configured from code."""

from __future__ import annotations

import os
from collections.abc import Callable

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from adapters.metrics.multiprocess import ENVIRONMENT_VARIABLE, MultiprocessDir, forget_process
from entrypoints import logs
from entrypoints.bootstrap import bootstrap
from entrypoints.config import DEFAULT_BODY_READ_SECONDS, DEFAULT_HEADER_READ_SECONDS, MiB, Settings
from entrypoints.http.app import create_app
from entrypoints.http.gunicorn_worker import BufferedThreadWorker
from entrypoints.http.server_stop import request_finished, request_started, stop_promptly
from entrypoints.signals import exiting_soon, ignore_stop_signals

# Deliberate limits (documented in the README). TIMEOUT is gunicorn's heartbeat: a
# worker whose main loop stops answering for that long is killed; a request's own
# waits are bounded by the database settings (LOCK_WAIT_SECONDS, ...). Header limits
# are gunicorn's defaults, read within HEADER_READ_SECONDS; the body limit is the
# app's own (MAX_BODY_BYTES), read within BODY_READ_SECONDS.
TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 30
KEEPALIVE_SECONDS = 5
# Processes rather than threads: the work is Python (the GIL) and, on SQLite, short
# queries whose GIL hand-offs cost more than they overlap; two threads a process
# still overlap PostgreSQL's round trips. The benchmark measured both (BENCHMARKS.md).
DEFAULT_WORKERS = 2 * (os.cpu_count() or 1)
DEFAULT_THREADS = 2


def gunicorn_options(
    bind: str,
    workers: int = DEFAULT_WORKERS,
    threads: int = DEFAULT_THREADS,
    *,
    header_read_seconds: float = DEFAULT_HEADER_READ_SECONDS,
    body_read_seconds: float = DEFAULT_BODY_READ_SECONDS,
    max_body_bytes: int = MiB,
    log_format: str = "json",
) -> dict:
    """The one gunicorn configuration: the service's, and the benchmark ceiling's."""
    worker_class = BufferedThreadWorker.configured(
        header_read_seconds=header_read_seconds, body_read_seconds=body_read_seconds, max_body_bytes=max_body_bytes
    )
    return {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        # gthread, with each request read in full before a thread sees it: slow and
        # idle clients cost a buffer, not a thread (see gunicorn_worker.py, README).
        "worker_class": worker_class,
        "logger_class": type("GunicornLogger", (GunicornLogger,), {"log_format": log_format}),
        "timeout": TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "accesslog": None,  # the app logs one structured line per request itself
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn's control socket sits at one path per user: several servers
        # (tests, benchmarks) would share it. Nothing here uses it.
        "control_socket_disable": True,
        # Each worker stops within seconds of SIGINT, SIGTERM or SIGHUP, finishing the
        # requests in hand (entrypoints/http/server_stop.py says why gunicorn's handlers do not).
        "post_worker_init": lambda worker: stop_promptly(worker, GRACEFUL_TIMEOUT_SECONDS),
        "pre_request": request_started,
        "post_request": request_finished,
        # A worker process that ended: its live figures leave the metrics folder.
        "child_exit": lambda _arbiter, worker: forget_process(worker.pid),
    }


class GunicornLogger(glogging.Logger):
    """gunicorn's own log (start, stop, worker deaths) in the same format as the service's."""

    log_format = "json"

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(logs.formatter(self.log_format))


class StoppingArbiter(Arbiter):
    """gunicorn's arbiter, except that SIGHUP (a closed terminal) stops it as SIGTERM does.

    gunicorn reloads on SIGHUP; a reload would change nothing here (the settings are read
    once, at start) and a server whose terminal has gone would go on holding its port.
    """

    handle_hup = Arbiter.handle_term

    def halt(self, reason=None, exit_status=0) -> None:
        exiting_soon()
        try:
            super().halt(reason, exit_status)
        finally:
            ignore_stop_signals()


class GunicornServer(BaseApplication):
    """Serves the app that `make_app` builds, once in each worker after the fork."""

    def __init__(self, make_app: Callable[[], object], options: dict):
        self.make_app = make_app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def run(self) -> None:
        StoppingArbiter(self).run()

    def load(self):
        logs.configure(self.options["logger_class"].log_format)
        logs.without_record_lookups()
        return self.make_app()


def serve(settings: Settings, bind: str, workers: int = DEFAULT_WORKERS, threads: int = DEFAULT_THREADS) -> None:
    options = gunicorn_options(
        bind,
        workers,
        threads,
        header_read_seconds=settings.header_read_seconds,
        body_read_seconds=settings.body_read_seconds,
        max_body_bytes=settings.max_body_bytes,
        log_format=settings.log_format,
    )
    # The worker processes keep their figures in one folder, which any of them reads
    # when scraped; made (or emptied) before they start, removed when the server stops.
    metrics_dir = MultiprocessDir(os.environ.get(ENVIRONMENT_VARIABLE))
    metrics_dir.use()
    try:
        # Each worker builds its own engine and pool: connections never cross a fork.
        GunicornServer(lambda: create_app(bootstrap(settings)), options).run()
    finally:
        metrics_dir.remove()
