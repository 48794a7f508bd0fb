"""The `status` subcommand: how many exports are in each state, once or until all are final,
and what went wrong with those that are erroring or failed (when each is tried next, and why)."""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from application.export_status import ExportReader
from application.system_status import SystemReader
from domain.exports import FINAL_STATES
from domain.numbers import parse_number
from entrypoints.bootstrap import bootstrap
from entrypoints.cli import troubles
from entrypoints.cli.arguments import add_command, argument
from entrypoints.cli.database import require_current_schema, require_existing
from entrypoints.config import Settings
from entrypoints.strict import Problem, command_uuid

BAR_WIDTH = 20
DEFAULT_INTERVAL = 2.0
MAX_INTERVAL = 3600
_FINAL = [state.value for state in FINAL_STATES]


def add_to(commands) -> None:
    """Add `status` to the `export-responses` subcommands."""
    status = add_command(commands, "status", "count exports by state, optionally following them until all are final")
    status.add_argument("--command", type=_command_uuid, metavar="UUID", help="only the exports of this command")
    status.add_argument("--follow", action="store_true", help="redraw a progress bar until every export is final")
    status.add_argument(
        "--interval",
        type=argument(functools.partial(parse_number, most=MAX_INTERVAL, unit="seconds")),
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help="seconds between refreshes with --follow (default %(default)s)",
    )
    status.set_defaults(run=run_status)


def run_status(args, settings: Settings) -> int:
    require_existing(settings.database_url)
    services = bootstrap(settings)
    try:
        require_current_schema(services)
        return show_status(
            services.export_reader,
            args.command,
            follow=args.follow,
            interval=args.interval,
            systems=services.system_reader,
        )
    except KeyboardInterrupt:
        print()
        return 130
    finally:
        services.close()


def show_status(
    reader: ExportReader,
    command_uuid: str | None,
    *,
    follow: bool = False,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    systems: SystemReader | None = None,
) -> int:
    """Print the counts by state, the erroring and failed exports (the first few of each),
    and the `systems` that hold their exports back; with `follow`, first a progress bar
    until every export is final, with a line for each export that goes erroring or failed
    meanwhile, saying why, and for each system paused, resumed, or whose circuit moves."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    counts = reader.count_by_state(command_uuid)
    if command_uuid is not None and sum(counts.values()) == 0:
        print(f"export-responses: command {command_uuid} has no exports", file=err)
        return 1
    if follow:
        redraw = out.isatty()
        told = troubles.Told()
        while True:
            now = clock()
            news = told.system_news(systems, now) if systems else []
            for line in [*news, *told.news(reader, command_uuid, counts, now)]:
                # On a terminal the bar is redrawn in place: clear it before a line of news.
                print(f"\r\033[K{line}" if redraw else line, file=out)
            line = progress_bar(counts)
            print(f"\r{line}" if redraw else line, end="" if redraw else "\n", file=out, flush=True)
            if final(counts) == sum(counts.values()):
                break
            sleep(interval)
            counts = reader.count_by_state(command_uuid)
        if redraw:
            print(file=out)
    print(summary(counts, command_uuid), file=out)
    now = clock()
    for line in [
        *troubles.listing(reader, command_uuid, counts, now),
        *(troubles.held_back(systems, now) if systems else []),
    ]:
        print(line, file=out)
    return 0


def final(counts: dict[str, int]) -> int:
    return sum(counts.get(state, 0) for state in _FINAL)


def progress_bar(counts: dict[str, int]) -> str:
    """`[#########-----------] 9/20 final; 2 failed, 3 erroring`: the share of exports that
    are complete or failed, and how many of them failed and how many are being retried."""
    total, done = sum(counts.values()), final(counts)
    filled = BAR_WIDTH * done // total if total else 0
    bar = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} final"
    trouble = [f"{counts[state]} {state}" for state in troubles.STATES if counts.get(state)]
    return f"{bar}; {', '.join(trouble)}" if trouble else bar


def summary(counts: dict[str, int], command_uuid: str | None) -> str:
    heading = f"Exports of command {command_uuid}:" if command_uuid else "All exports:"
    width = max(len(state) for state in [*counts, "total"])
    lines = [heading, *[f"  {state:<{width}}  {number:>6}" for state, number in counts.items()]]
    lines.append(f"  {'total':<{width}}  {sum(counts.values()):>6}")
    return "\n".join(lines)


def _command_uuid(text: str) -> str:
    try:
        return command_uuid(text)
    except Problem as problem:
        raise argparse.ArgumentTypeError(problem.message) from None
