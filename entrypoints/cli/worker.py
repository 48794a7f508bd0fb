"""`export-responses worker`: the services from the bootstrap, on Settings and the CCD_* variables."""

from __future__ import annotations

import os
import sys

from adapters.ccd.settings import CcdSettings
from adapters.metrics.families import Scrape
from adapters.metrics.multiprocess import keep_in_process
from adapters.sql.queue_signals import queue_listener
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.cli.addresses import bind_problem
from entrypoints.cli.api_token import local_token
from entrypoints.cli.arguments import add_command, positive_float, positive_int
from entrypoints.cli.database import require_current_schema, require_existing, shown
from entrypoints.config import Settings
from entrypoints.http.metrics import METRICS_PATH
from entrypoints.http.metrics_server import MetricsServer, metrics_app
from entrypoints.signals import STOP_SIGNALS, ignore_stop_signals, relay_signals
from entrypoints.worker import Worker


def add_to(commands) -> None:
    worker = add_command(
        commands, "worker", "carry out queued exports against CCD until stopped (Ctrl-C, SIGTERM or SIGHUP)"
    )
    worker.add_argument("--drain", action="store_true", help="exit once no export is due")
    worker.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        metavar="N",
        help="calls to CCD at a time, each an export's attempt (default %(default)s)",
    )
    worker.add_argument(
        "--max-rate",
        type=positive_float,
        default=None,
        metavar="R",
        help="at most R calls per second to CCD (default: no limit)",
    )
    worker.add_argument(
        "--poll",
        type=positive_float,
        default=1.0,
        metavar="SECONDS",
        help="how often to look for due exports when idle (default %(default)s)",
    )
    worker.add_argument(
        "--metrics-bind",
        default=None,
        metavar="HOST:PORT",
        help="serve the worker's own GET /metrics there (default: WORKER_METRICS_BIND, else none)",
    )
    worker.set_defaults(run=run_worker)


def run_worker(args, settings: Settings) -> int:
    try:
        ccd_settings = CcdSettings.from_environ(os.environ)
    except ValueError as error:
        return _refuse(str(error))
    metrics_bind = args.metrics_bind or os.environ.get("WORKER_METRICS_BIND") or None
    problem = metrics_bind and bind_problem(metrics_bind)
    if problem:
        return _refuse(f"--metrics-bind: {problem}")
    if ccd_settings is None:
        return _refuse(
            "CCD is not configured: set the CCD_* variables (see the README), "
            "or point them at `export-responses fake-ccd`"
        )
    require_existing(settings.database_url)
    keep_in_process()
    # The worker's own figures (CCD calls, attempts); the queue's are the API's to serve.
    scrape = Scrape()
    services = bootstrap(
        settings,
        ccd_settings=ccd_settings,
        max_ccd_rate=args.max_rate,
        pool_size=args.concurrency + 2,
        scrape=scrape,
    )
    try:
        require_current_schema(services)
        return _work(args, services, ccd_settings, _metrics_server(metrics_bind, scrape, settings))
    finally:
        services.close()


def _work(args, services: Services, ccd_settings: CcdSettings, metrics: MetricsServer | None) -> int:
    assert services.export_work is not None, "bootstrap given CCD settings"
    settings = services.settings
    worker = Worker(
        services.export_work,
        concurrency=args.concurrency,
        poll_seconds=args.poll,
        on_attempt=services.scrape.metrics.attempt,
    )
    listener = queue_listener(settings.database_url, settings.session_database_url, worker.nudge)
    print(
        f"worker: carrying out the exports queued in {shown(services.settings.database_url)}, "
        f"{args.concurrency} at a time, against CCD at {ccd_settings.data_store_base_url}",
        file=sys.stderr,
        flush=True,
    )
    relay_signals(STOP_SIGNALS, lambda _signum: worker.stop())
    if listener is not None:
        listener.start()
    if metrics is not None:
        metrics.start()
        print(f"worker: serving its metrics on http://{metrics.address}{METRICS_PATH}", file=sys.stderr, flush=True)
    try:
        outcomes = worker.run(drain=args.drain)
    finally:
        ignore_stop_signals()
        if metrics is not None:
            metrics.stop()
        if listener is not None:
            listener.stop()
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "nothing was due"
    print(f"worker stopped: {summary}")
    return 0


def _metrics_server(bind: str | None, scrape: Scrape, settings: Settings) -> MetricsServer | None:
    if bind is None:
        return None
    tokens = None
    if settings.api_auth:
        tokens = settings.api_tokens or (local_token(settings.data_dir)[0],)  # as `serve` does
    host, _, port = bind.rpartition(":")
    return MetricsServer(host or "0.0.0.0", int(port), metrics_app(scrape, tokens))


def _refuse(message: str) -> int:
    print(f"export-responses worker: {message}", file=sys.stderr)
    return 2
