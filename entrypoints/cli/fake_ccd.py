"""The `fake-ccd` command: a fake CCD to run the worker against, on this machine."""

from __future__ import annotations

import argparse
import functools
import sys
import threading
from collections.abc import Callable

from adapters.ccd.fake_server import FakeCcd
from adapters.sql.ccd_cases import cases_to_serve
from domain.numbers import parse_number
from entrypoints.bootstrap import bootstrap
from entrypoints.cli.arguments import add_command, argument, positive_float
from entrypoints.cli.database import require_current_schema, require_existing, shown
from entrypoints.config import Settings
from entrypoints.signals import STOP_SIGNALS, ignore_stop_signals, relay_signals


def add_to(commands) -> None:
    fake_ccd = add_command(commands, "fake-ccd", "serve a fake CCD until stopped (Ctrl-C, SIGTERM or SIGHUP)")
    fake_ccd.add_argument(
        "--bind",
        type=_host_port,
        default="127.0.0.1:0",
        help="HOST:PORT; port 0 picks a free one (default %(default)s)",
    )
    fake_ccd.add_argument(
        "--latency",
        type=argument(functools.partial(parse_number, zero=True, unit="seconds")),
        default=0.0,
        help="seconds before answering each data-store call (default %(default)s)",
    )
    fake_ccd.add_argument(
        "--rate-limit",
        type=positive_float,
        default=None,
        metavar="N",
        help="answer calls beyond N a second (all paths, all clients together) with 429 and "
        "Retry-After, as CCD's gateway does (default: no limit)",
    )
    fake_ccd.add_argument(
        "--cases-from-database",
        action="store_true",
        help="serve a case for every response in the database (DATABASE_URL), "
        "in each case type of the systems exporting responses",
    )
    fake_ccd.set_defaults(run=run)


def run(args, settings: Settings, wait: Callable[[FakeCcd], None] | None = None) -> int:
    """Serve until `wait` returns (by default: until SIGTERM or SIGINT); then print how
    many calls came and how many were refused for the rate limit (for the benchmark)."""
    host, port = args.bind
    fake = FakeCcd(host, port, latency=args.latency, rate_limit=args.rate_limit)
    if args.cases_from_database:
        added = add_cases_from_database(fake, settings)
        print(f"fake-ccd: {added} cases from {shown(settings.database_url)}", file=sys.stderr)
    with fake:
        for name, value in fake.base_urls.items():
            print(f"{name}={value}")
        sys.stdout.flush()
        (wait or _until_signalled)(fake)
    print(f"FAKE_CCD_CALLS={sum(fake.calls.values())}")
    print(f"FAKE_CCD_RATE_LIMITED={fake.rate_limited}")
    sys.stdout.flush()
    return 0


def add_cases_from_database(fake: FakeCcd, settings: Settings) -> int:
    """One case per response's case number in each case type of the systems exporting
    responses, managed by the office its first two digits name; how many were added."""
    require_existing(settings.database_url)
    services = bootstrap(settings)
    try:
        require_current_schema(services)
        assert services.engine is not None, "bootstrap without a store"
        cases = cases_to_serve(services.engine)
    finally:
        services.close()
    for case_type_id in cases.case_type_ids:
        for case_number in cases.case_numbers:
            prefix = case_number[:2]
            office = cases.office_names.get(int(prefix)) if prefix.isdigit() else None
            fake.add_case(case_type_id, case_number, managing_office=office)
    return len(cases.case_type_ids) * len(cases.case_numbers)


def _until_signalled(_fake: FakeCcd) -> None:
    stop = threading.Event()
    relay_signals(STOP_SIGNALS, lambda _signum: stop.set())
    try:
        stop.wait()
    finally:
        ignore_stop_signals()


def _host_port(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host or "127.0.0.1", int(port)
