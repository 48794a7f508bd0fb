"""The `fake-ccd` command: a fake CCD to run the worker against, on this machine."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable

import sqlalchemy as sa

from adapters.ccd.fake_server import FakeCcd
from adapters.sql.engine import create_engine
from adapters.sql.pooling import Pooling
from adapters.sql.tables import external_system_configurations, external_systems, offices, responses
from entrypoints.cli.arguments import add_command, positive_float
from entrypoints.cli.database import require_current_schema, require_existing, shown
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
        type=_seconds,
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


def run(args, settings, wait: Callable[[FakeCcd], None] | None = None) -> int:
    """Serve until `wait` returns (by default: until SIGTERM or SIGINT); then print how
    many calls came and how many were refused for the rate limit (for the benchmark)."""
    host, port = args.bind
    fake = FakeCcd(host, port, latency=args.latency, rate_limit=args.rate_limit)
    if args.cases_from_database:
        added = add_cases_from_database(fake, settings.database_url, settings.database_pooling)
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


def add_cases_from_database(fake: FakeCcd, database_url: str, pooling: Pooling = Pooling.SESSION) -> int:
    """One case per response's case number in each case type of the systems exporting
    responses, managed by the office its first two digits name; how many were added."""
    codes_to_names, case_types, case_numbers = _read(database_url, pooling)
    for case_type_id in case_types:
        for case_number in case_numbers:
            prefix = case_number[:2]
            office = codes_to_names.get(int(prefix)) if prefix.isdigit() else None
            fake.add_case(case_type_id, case_number, managing_office=office)
    return len(case_types) * len(case_numbers)


def _read(database_url: str, pooling: Pooling) -> tuple[dict[int, str], list[str], list[str]]:
    configuration = external_system_configurations
    case_types = (
        sa.select(configuration.c.value)
        .distinct()
        .join(external_systems, external_systems.c.id == configuration.c.external_system_id)
        .where(external_systems.c.export_responses.is_(True), configuration.c.key == "case_type_id")
        .order_by(configuration.c.value)
    )
    case_numbers = sa.select(responses.c.case_number).distinct().order_by(responses.c.case_number)
    require_existing(database_url)
    engine = create_engine(database_url, pooling=pooling)
    try:
        require_current_schema(engine)
        with engine.connect().execution_options(read_only=True) as connection:
            office_rows = connection.execute(sa.select(offices.c.code, offices.c.name))
            codes_to_names = {code: name for code, name in office_rows}
            types = list(connection.execute(case_types).scalars())
            numbers = list(connection.execute(case_numbers).scalars())
    finally:
        engine.dispose()
    return codes_to_names, types, numbers


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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, not {text!r}")
    return value
