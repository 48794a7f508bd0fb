"""`export-responses worker`: its own composition root, from Settings and CCD_* variables."""

from __future__ import annotations

import os
import sys
import uuid

from adapters.ccd.http_gateway import HttpCcdGateway
from adapters.ccd.rate_limit import RateLimitedCcdGateway
from adapters.ccd.settings import CcdSettings
from adapters.clock import SystemClock
from adapters.sql.unit_of_work import SqlAlchemyUnitOfWork
from application.carry_out_exports import ExportWorkDeps
from domain.retries import RetrySchedule
from entrypoints import logs
from entrypoints.bootstrap import database_engine
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
    engine = database_engine(settings, pool_size=args.concurrency + 2)
    require_current_schema(engine)
    gateway = HttpCcdGateway(ccd_settings)
    ccd = RateLimitedCcdGateway(gateway, args.max_rate) if args.max_rate else gateway
    deps = ExportWorkDeps(
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        ccd=ccd,
        clock=SystemClock(),
        new_uuid=lambda: str(uuid.uuid4()),
        retries=RetrySchedule(settings.retry_delays),
        claim_seconds=settings.claim_seconds,
        circuit=settings.circuit,
    )
    worker = Worker(deps, concurrency=args.concurrency, poll_seconds=args.poll)
    print(
        f"worker: carrying out the exports queued in {shown(settings.database_url)}, {args.concurrency} at a time, "
        f"against CCD at {ccd_settings.data_store_base_url}",
        file=sys.stderr,
        flush=True,
    )
    relay_signals(STOP_SIGNALS, lambda _signum: worker.stop())
    try:
        outcomes = worker.run(drain=args.drain)
    finally:
        ignore_stop_signals()
        gateway.close()
        engine.dispose()
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "nothing was due"
    print(f"worker stopped: {summary}")
    return 0


def _refuse(message: str) -> int:
    print(f"export-responses worker: {message}", file=sys.stderr)
    return 2
