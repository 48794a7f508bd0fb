"""`export-responses worker`: the services from the bootstrap, on Settings and the CCD_* variables."""

from __future__ import annotations

import os
import sys

from adapters.ccd.settings import CcdSettings
from entrypoints import logs
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.cli.arguments import add_command, positive_float, positive_int
from entrypoints.cli.database import require_current_schema, require_existing, shown
from entrypoints.config import Settings
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
        help="exports carried out at a time (default %(default)s)",
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
    worker.set_defaults(run=run_worker)


def run_worker(args, settings: Settings) -> int:
    logs.configure(settings.log_format)
    try:
        ccd_settings = CcdSettings.from_environ(os.environ)
    except ValueError as error:
        return _refuse(str(error))
    if ccd_settings is None:
        return _refuse(
            "CCD is not configured: set the CCD_* variables (see the README), "
            "or point them at `export-responses fake-ccd`"
        )
    require_existing(settings.database_url)
    services = bootstrap(
        settings, ccd_settings=ccd_settings, max_ccd_rate=args.max_rate, pool_size=args.concurrency + 2
    )
    try:
        require_current_schema(services)
        return _work(args, services, ccd_settings)
    finally:
        services.close()


def _work(args, services: Services, ccd_settings: CcdSettings) -> int:
    assert services.export_work is not None, "bootstrap given CCD settings"
    worker = Worker(services.export_work, concurrency=args.concurrency, poll_seconds=args.poll)
    print(
        f"worker: carrying out the exports queued in {shown(services.settings.database_url)}, "
        f"{args.concurrency} at a time, against CCD at {ccd_settings.data_store_base_url}",
        file=sys.stderr,
        flush=True,
    )
    relay_signals(STOP_SIGNALS, lambda _signum: worker.stop())
    try:
        outcomes = worker.run(drain=args.drain)
    finally:
        ignore_stop_signals()
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "nothing was due"
    print(f"worker stopped: {summary}")
    return 0


def _refuse(message: str) -> int:
    print(f"export-responses worker: {message}", file=sys.stderr)
    return 2
